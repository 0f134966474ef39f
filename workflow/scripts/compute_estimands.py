from il6fit.diagnostics import summarise_estimands
from il6fit.logs import log_to
from il6fit.storage import fitted_inputs, load

log_to(snakemake.log[0])

tree = load(
    snakemake.input.fit, model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset
)
family, options, table = fitted_inputs(tree)
summary = summarise_estimands(
    tree, family, table, options, seed=snakemake.params.seed, **snakemake.params.summary
)
summary.to_csv(snakemake.output.estimands, index=False)
