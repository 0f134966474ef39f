rule sbc_batch:
    output:
        "results/calibration/{model}/batches/{batch}.csv",
    log:
        "logs/sbc_batch/{model}/{batch}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["sbc_batch"],
    params:
        replicates=batch_replicates,
        seeds=lambda wildcards: [
            job_seed("sbc_replicate", model=wildcards.model, replicate=r)
            for r in batch_replicates(wildcards)
        ],
        design=lambda wildcards: calibration_design(wildcards.model),
        # the model's options and priors of the config: calibrate what a run fits
        options=lambda wildcards: model_options(wildcards.model),
        design_seed=lambda wildcards: job_seed("sbc_design", model=wildcards.model),
        # the model's fit settings (what a run would fit it with), then calibration's own
        sampler=lambda wildcards: {
            **sampler_settings(wildcards.model),
            **config["calibration"]["sampler"],
        },
        compile_cache=lambda wildcards: (
            f"{config['compile_cache']}/{wildcards.model}/calibration-{wildcards.batch}"
        ),
        code=lambda wildcards: code_version("sbc_batch.py", wildcards.model),
        # replicate fits keep no log-likelihood: the sampler checks only
        thresholds={
            k: v
            for k, v in config["diagnostics"]["thresholds"].items()
            if k != "pareto_k_max"
        },
    script:
        "../scripts/sbc_batch.py"


rule sbc_summary:
    input:
        lambda wildcards: expand(
            "results/calibration/{model}/batches/{batch}.csv",
            model=wildcards.model,
            batch=calibration_batches(wildcards.model),
        ),
    output:
        ranks="results/calibration/{model}/ranks.csv",
        coverage="results/calibration/{model}/coverage.csv",
        ecdf=report(
            "results/calibration/{model}/ecdf.png",
            caption="../report/calibration.rst",
            category="Calibration",
            subcategory="{model}",
        ),
        ecdf_svg="results/calibration/{model}/ecdf.svg",
        hist="results/calibration/{model}/ranks.png",
        hist_svg="results/calibration/{model}/ranks.svg",
    log:
        "logs/sbc_summary/{model}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["sbc_summary"],
    params:
        band_prob=config["calibration"]["band_prob"],
        code=code_version("sbc_summary.py", figures=True),
    script:
        "../scripts/sbc_summary.py"
