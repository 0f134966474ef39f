from il6fit.diagnostics import Thresholds, gate
from il6fit.logs import log_to
from il6fit.loo import LooSettings
from il6fit.models import get_model
from il6fit.storage import load

log_to(snakemake.log[0])

summary, checks = gate(
    load(snakemake.input.fit, model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset),
    get_model(snakemake.params.family),
    fit_name=f"{snakemake.wildcards.model} on {snakemake.wildcards.dataset}",
    thresholds=Thresholds(**snakemake.params.thresholds),
    on_failure=snakemake.params.on_failure,
    loo=LooSettings(**snakemake.params.loo),
    **snakemake.params.summary,
)
summary.to_csv(snakemake.output.summary, index=False)
checks.to_csv(snakemake.output.checks, index=False)
