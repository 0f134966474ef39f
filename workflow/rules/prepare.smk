rule prepare_data:
    input:
        unpack(dataset_tables),
    output:
        subjects="results/prepared/{dataset}/subjects.csv",
        measurements="results/prepared/{dataset}/measurements.csv",
        ledger="results/prepared/{dataset}/ledger.csv",
        response="results/prepared/{dataset}/response.csv",
        dosing="results/prepared/{dataset}/dosing.csv",
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["prepare_data"],
    params:
        options=config["prepare"],
        subject_columns=subject_columns,
        code=code_version("prepare_data.py"),
    script:
        "../scripts/prepare_data.py"


rule import_tongji:
    input:
        source=import_source,
    output:
        subjects="results/imported/{dataset}/subjects.csv",
        measurements="results/imported/{dataset}/measurements.csv",
        ledger="results/imported/{dataset}/ledger.csv",
    log:
        "logs/import_tongji/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["import_tongji"],
    params:
        code=code_version("import_tongji.py"),
    script:
        "../scripts/import_tongji.py"
