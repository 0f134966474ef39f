rule fit_model:
    input:
        unpack(fit_tables),
    output:
        fit="results/fits/{model}/{dataset}.nc",
    log:
        "logs/fit_model/{model}/{dataset}.log",
    # fits first (they compile for most of their time, the jobs after them take seconds each),
    # the longest-compiling first
    priority: fit_priority
    conda:
        "../envs/il6fit.yaml"
    threads: config["sampler"]["chains"]
    resources:
        **config["resources"]["fit_model"],
    params:
        seed=lambda wildcards: job_seed(
            "fit_model", model=wildcards.model, dataset=wildcards.dataset
        ),
        family=lambda wildcards: family_name(wildcards.model),
        options=lambda wildcards: model_options(wildcards.model),
        sampler=lambda wildcards: sampler_settings(wildcards.model),
        escalation=escalation,
        store=config["store"],
        run_config=fit_config,
        compile_cache=lambda wildcards: (
            f"{config['compile_cache']}/{wildcards.model}/{wildcards.dataset}"
        ),
        code=lambda wildcards: code_version("fit_model.py", wildcards.model),
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
        **config["resources"]["check_fit"],
    params:
        family=lambda wildcards: family_name(wildcards.model),
        summary=config["summary"],
        thresholds=config["diagnostics"]["thresholds"],
        on_failure=config["diagnostics"]["on_failure"],
        loo=config["diagnostics"]["loo"],
        code=lambda wildcards: code_version("check_fit.py", wildcards.model),
    script:
        "../scripts/check_fit.py"


rule prior_sensitivity:
    input:
        fit="results/fits/{model}/{dataset}.nc",
    output:
        sensitivity="results/sensitivity/{model}/{dataset}.csv",
    log:
        "logs/prior_sensitivity/{model}/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["prior_sensitivity"],
    params:
        family=lambda wildcards: family_name(wildcards.model),
        threshold=config["diagnostics"]["sensitivity_threshold"],
        code=lambda wildcards: code_version("prior_sensitivity.py", wildcards.model),
    script:
        "../scripts/prior_sensitivity.py"


rule compare_models:
    input:
        fits=comparison_fits,
    output:
        comparison=f"{RUN}/comparisons/{{comparison}}.csv",
    log:
        f"logs/{ANALYSIS}/compare_models/{{comparison}}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["compare_models"],
    params:
        models=lambda wildcards: config["comparisons"][wildcards.comparison]["models"],
        good_k=config["diagnostics"]["thresholds"]["pareto_k_max"],
        loo=config["diagnostics"]["loo"],
        code=code_version("compare_models.py"),
    script:
        "../scripts/compare_models.py"


rule compute_estimands:
    input:
        fit="results/fits/{model}/{dataset}.nc",
    output:
        estimands="results/estimands/{model}/{dataset}.csv",
    log:
        "logs/compute_estimands/{model}/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["compute_estimands"],
    params:
        family=lambda wildcards: family_name(wildcards.model),
        summary=config["summary"],
        seed=lambda wildcards: job_seed(
            "compute_estimands", model=wildcards.model, dataset=wildcards.dataset
        ),
        code=lambda wildcards: code_version("compute_estimands.py", wildcards.model),
    script:
        "../scripts/compute_estimands.py"
