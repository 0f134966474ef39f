import os

# each batch compiles into its own cache, started from the model's other caches (fit_model.py)
os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={os.path.abspath(snakemake.params.compile_cache)}"

import pandas as pd

from il6fit.cache import seed_compile_cache
from il6fit.diagnostics import Thresholds
from il6fit.logs import log_to
from il6fit.sampling import SamplerSettings
from il6fit.sbc import Calibrator, design

log_to(snakemake.log[0])
seed_compile_cache(snakemake.params.compile_cache)

model = snakemake.wildcards.model
sampler = dict(snakemake.params.sampler)
n_ranks = sampler.pop("n_ranks")
calibrator = Calibrator(
    model,
    design(
        model,
        snakemake.params.design,
        seed=snakemake.params.design_seed,
        options=snakemake.params.options,
    ),
    settings=SamplerSettings(**sampler),
    thresholds=Thresholds(**snakemake.params.thresholds),
    n_ranks=n_ranks,
    options=snakemake.params.options,
)
tables = [
    calibrator.replicate(replicate, seed)
    for replicate, seed in zip(snakemake.params.replicates, snakemake.params.seeds, strict=True)
]
pd.concat(tables).to_csv(snakemake.output[0], index=False)
