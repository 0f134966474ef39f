# All figures of one fit in one job: the fit is loaded (and il6fit imported) once. The folder
# holds <figure>.png and .svg for each figure of the family; `snakemake --report` takes every
# PNG in it, with the figure's own caption (the pattern's {figure} is a wildcard there).
rule plot_figures:
    input:
        fit="results/fits/{model}/{dataset}.nc",
        summary="results/summaries/{model}/{dataset}.csv",
    output:
        figures=report(
            directory("results/figures/{model}/{dataset}"),
            patterns=["{figure}.png"],
            caption="../report/figure.rst",
            category="{model}",
            subcategory="{dataset}",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{figure}"},
        ),
    log:
        "logs/plot_figures/{model}/{dataset}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["plot_figures"],
    params:
        family=lambda wildcards: family_name(wildcards.model),
        ci_prob=config["summary"]["ci_prob"],
        # by figure, in report order: what plot_figures draws, and each figure's caption
        captions=lambda wildcards: FAMILIES[family_name(wildcards.model)]["captions"],
        code=lambda wildcards: code_version(
            "plot_figures.py", wildcards.model, figures=True
        ),
    script:
        "../scripts/plot_figures.py"


rule plot_comparison:
    input:
        comparison=f"{RUN}/comparisons/{{comparison}}.csv",
    output:
        png=report(
            f"{RUN}/comparisons/{{comparison}}.png",
            caption="../report/comparison.rst",
            category="Model comparison",
            labels={"comparison": "{comparison}"},
        ),
        svg=f"{RUN}/comparisons/{{comparison}}.svg",
    log:
        f"logs/{ANALYSIS}/plot_comparison/{{comparison}}.log",
    conda:
        "../envs/il6fit.yaml"
    threads: 1
    resources:
        **config["resources"]["plot_comparison"],
    params:
        code=code_version("plot_comparison.py", figures=True),
    script:
        "../scripts/plot_comparison.py"
