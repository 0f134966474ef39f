import os
import tempfile

# a fresh compile cache for every batch: every replicate runs freshly compiled code, whichever
# batch it is in (code loaded from a cache can differ in the last bit)
os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={tempfile.mkdtemp(prefix='il6fit-sbc-')}"

import pandas as pd

from il6fit.diagnostics import Thresholds
from il6fit.logs import log_to
from il6fit.sampling import SamplerSettings
from il6fit.sbc import Calibrator, design

log_to(snakemake.log[0])

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
