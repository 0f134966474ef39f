from il6fit.data import read_prepared
from il6fit.diagnostics import summarise_estimands
from il6fit.inference import load
from il6fit.logs import log_to
from il6fit.models import get_model

log_to(snakemake.log[0])

family = get_model(snakemake.params.family)
subjects, measurements = read_prepared(snakemake.input.subjects, snakemake.input.measurements)
options = snakemake.params.options
summary = summarise_estimands(
    load(snakemake.input.fit),
    family,
    family.table(subjects, measurements, options),
    {k: v for k, v in options.items() if k != "priors"},
    seed=snakemake.params.seed,
    **snakemake.params.summary,
)
summary.to_csv(snakemake.output.estimands, index=False)
