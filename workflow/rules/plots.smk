rule plot_figure:
    input:
        fit="results/fits/{model}/{dataset}.nc",
        summary="results/summaries/{model}/{dataset}.csv",
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
        family=lambda wildcards: family_name(wildcards.model),
        ci_prob=config["summary"]["ci_prob"],
        caption=lambda wildcards: FAMILIES[family_name(wildcards.model)]["captions"][
            wildcards.figure
        ],
        code=lambda wildcards: code_version(
            "plot_figure.py", wildcards.model, figures=True
        ),
    script:
        "../scripts/plot_figure.py"


rule plot_comparison:
    input:
        comparison="results/comparisons/{comparison}.csv",
    output:
        png=report(
            "results/comparisons/{comparison}.png",
            caption="../report/comparison.rst",
            category="Model comparison",
            labels={"comparison": "{comparison}"},
        ),
        svg="results/comparisons/{comparison}.svg",
    log:
        "logs/plot_comparison/{comparison}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["plot_comparison"],
    params:
        code=code_version("plot_comparison.py", figures=True),
    script:
        "../scripts/plot_comparison.py"
