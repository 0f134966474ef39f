rule simulate_cohort:
    output:
        subjects="results/simulated/{dataset}/subjects.csv",
        measurements="results/simulated/{dataset}/measurements.csv",
        truth="results/simulated/{dataset}/truth.json",
    log:
        "logs/simulate_cohort/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["simulate_cohort"],
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset]["simulate"],
        seed=lambda wildcards: job_seed("simulate_cohort", dataset=wildcards.dataset),
        code=code_version("simulate_cohort.py"),
    script:
        "../scripts/simulate_cohort.py"
