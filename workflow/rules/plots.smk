rule plot_figure:
    input:
        fit="results/fits/{model}/{dataset}.nc",
        summary="results/summaries/{model}/{dataset}.csv",
        subjects="results/prepared/{dataset}/subjects.csv",
        measurements="results/prepared/{dataset}/measurements.csv",
    output:
        png=report(
            "results/figures/{model}/{dataset}/{figure}.png",
            caption="../report/figure.rst",
            category="{model}",
            subcategory="{dataset}",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{figure}"},
        ),
        svg="results/figures/{model}/{dataset}/{figure}.svg",
    log:
        "logs/plot_figure/{model}/{dataset}/{figure}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["plot_figure"],
    params:
        options=lambda wildcards: model_options(wildcards.model),
        ci_prob=config["summary"]["ci_prob"],
    script:
        "../scripts/plot_figure.py"
