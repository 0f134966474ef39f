import logging
import os

# One compile cache per job, set before PyTensor is imported: parallel fits never share a cache.
os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={os.path.abspath(snakemake.params.compile_cache)}"

from il6fit.cache import seed_compile_cache
from il6fit.data import read_prepared
from il6fit.inference import SamplerSettings, StorePolicy, annotate, fit_model, save
from il6fit.logs import log_to
from il6fit.models import get_model
from il6fit.provenance import input_hashes

log_to(snakemake.log[0])
# a new cache starts from the kernels the model's fits on other data compiled
copied = seed_compile_cache(snakemake.params.compile_cache)
if copied:
    logging.getLogger(__name__).info("compile cache started from %d files of other fits", copied)

subjects, measurements = read_prepared(snakemake.input.subjects, snakemake.input.measurements)
settings = SamplerSettings(**snakemake.params.sampler, cores=snakemake.threads)
tree, _ = fit_model(
    get_model(snakemake.wildcards.model),
    subjects,
    measurements,
    options=snakemake.params.options,
    settings=settings,
    seed=snakemake.params.seed,
)
annotate(
    tree,
    model=snakemake.wildcards.model,
    dataset=snakemake.wildcards.dataset,
    seed=snakemake.params.seed,
    settings=settings,
    config=snakemake.params.run_config,
    inputs=input_hashes(snakemake.input),
)
save(tree, snakemake.output.fit, StorePolicy(**snakemake.params.store))
