from il6fit.diagnostics import prior_sensitivity
from il6fit.logs import log_to
from il6fit.models import get_model
from il6fit.storage import load

log_to(snakemake.log[0])

table = prior_sensitivity(
    load(snakemake.input.fit, model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset),
    get_model(snakemake.params.family),
    threshold=snakemake.params.threshold,
)
table.to_csv(snakemake.output.sensitivity, index=False)
