rule build_report:
    input:
        fits=fit_targets("results/fits/{model}/{dataset}.nc"),
        summaries=fit_targets("results/summaries/{model}/{dataset}.csv"),
        checks=fit_targets("results/diagnostics/{model}/{dataset}.csv"),
        estimands=fit_targets(
            "results/estimands/{model}/{dataset}.csv", with_estimands=True
        ),
        figures=figure_targets("png"),
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
        report(
            "results/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        "logs/build_report.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["build_report"],
    params:
        title=config["title"],
        pairs=fit_pairs(),
        datasets={d: dataset_source(d) for d in config["datasets"]},
        config=config,
    script:
        "../scripts/build_report.py"
