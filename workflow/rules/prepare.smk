rule prepare_data:
    input:
        unpack(dataset_tables),
    output:
        subjects="results/prepared/{dataset}/subjects.csv",
        measurements="results/prepared/{dataset}/measurements.csv",
        ledger="results/prepared/{dataset}/ledger.csv",
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        limits=config["prepare"]["limits"],
    script:
        "../scripts/prepare_data.py"
