rule fit_model:
    input:
        subjects="results/prepared/{dataset}/subjects.csv",
        measurements="results/prepared/{dataset}/measurements.csv",
    output:
        fit="results/fits/{model}/{dataset}.nc",
    log:
        "logs/fit_model/{model}/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: config["sampler"]["chains"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        seed=lambda wildcards: job_seed(
            "fit_model", model=wildcards.model, dataset=wildcards.dataset
        ),
        options=lambda wildcards: model_options(wildcards.model),
        sampler=lambda wildcards: sampler_settings(wildcards.model),
        store=config["store"],
        run_config=fit_config,
        compile_cache=lambda wildcards: (
            f"{config['compile_cache']}/{wildcards.model}/{wildcards.dataset}"
        ),
    script:
        "../scripts/fit_model.py"


rule check_fit:
    input:
        fit="results/fits/{model}/{dataset}.nc",
    output:
        summary="results/summaries/{model}/{dataset}.csv",
        checks="results/diagnostics/{model}/{dataset}.csv",
    log:
        "logs/check_fit/{model}/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        summary=config["summary"],
        thresholds=config["diagnostics"]["thresholds"],
        on_failure=config["diagnostics"]["on_failure"],
    script:
        "../scripts/check_fit.py"


rule compute_estimands:
    input:
        fit="results/fits/{model}/{dataset}.nc",
        subjects="results/prepared/{dataset}/subjects.csv",
        measurements="results/prepared/{dataset}/measurements.csv",
    output:
        estimands="results/estimands/{model}/{dataset}.csv",
    log:
        "logs/compute_estimands/{model}/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        options=lambda wildcards: model_options(wildcards.model),
        summary=config["summary"],
        seed=lambda wildcards: job_seed(
            "compute_estimands", model=wildcards.model, dataset=wildcards.dataset
        ),
    script:
        "../scripts/compute_estimands.py"
