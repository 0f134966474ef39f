from snakemake.utils import min_version

min_version("9.27")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/calibrate.smk"


rule all:
    input:
        f"{RUN}/report.html",
        fit_targets("results/summaries/{model}/{dataset}.csv"),
        fit_targets("results/estimands/{model}/{dataset}.csv", with_estimands=True),


# `snakemake calibrate` (`make calibrate`): simulation-based calibration of every model.
rule calibrate:
    input:
        expand(
            "results/calibration/{model}/{output}",
            model=config["calibration"]["models"],
            output=["coverage.csv", "ecdf.png", "ranks.png"],
        ),
