rule build_report:
    input:
        fits=fit_targets("results/fits/{model}/{dataset}.nc"),
        summaries=fit_targets("results/summaries/{model}/{dataset}.csv"),
        checks=fit_targets("results/diagnostics/{model}/{dataset}.csv"),
        estimands=fit_targets(
            "results/estimands/{model}/{dataset}.csv", with_estimands=True
        ),
        figures=figure_targets(),
        sensitivity=fit_targets("results/sensitivity/{model}/{dataset}.csv"),
        comparisons=comparison_targets(f"{RUN}/comparisons/{{comparison}}.csv"),
        comparison_figures=comparison_targets(f"{RUN}/comparisons/{{comparison}}.png"),
        calibration=calibration_results(),
        subjects=expand(
            "results/prepared/{dataset}/subjects.csv", dataset=config["datasets"]
        ),
        measurements=expand(
            "results/prepared/{dataset}/measurements.csv", dataset=config["datasets"]
        ),
        ledgers=expand(
            "results/prepared/{dataset}/ledger.csv", dataset=config["datasets"]
        ),
    output:
        html=report(
            f"{RUN}/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
        record=f"{RUN}/report.json",
    log:
        f"logs/{ANALYSIS}/build_report.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["build_report"],
    params:
        title=config["title"],
        pairs=fit_pairs(),
        datasets={d: dataset_source(d) for d in config["datasets"]},
        comparisons=config["comparisons"],
        # the report shows the whole config (the script reads it as snakemake.config): any
        # change reruns it, through this digest rather than the config itself
        config=config_digest(config),
        # the record of the last report, kept outside the outputs (Snakemake removes those
        # before a job runs), so the next report can say what changed
        history=f"{RUN}/history/last-report.json",
        captions={
            model: FAMILIES[family_name(model)]["captions"] for model, _ in fit_pairs()
        },
        code=code_version("build_report.py", figures=True),
    script:
        "../scripts/build_report.py"
