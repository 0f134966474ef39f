from il6fit.comparison import compare_fits
from il6fit.logs import log_to
from il6fit.loo import LooSettings
from il6fit.storage import load

log_to(snakemake.log[0])

table = compare_fits(
    {
        model: load(path)
        for model, path in zip(snakemake.params.models, snakemake.input.fits, strict=True)
    },
    good_k=snakemake.params.good_k,
    loo=LooSettings(**snakemake.params.loo),
)
table.to_csv(snakemake.output.comparison, index=False)
