import logging
import os

# One compile cache per job, set before PyTensor is imported: parallel fits never share a cache.
os.environ["PYTENSOR_FLAGS"] = f"base_compiledir={os.path.abspath(snakemake.params.compile_cache)}"

from functools import partial

from il6fit.cache import seed_compile_cache
from il6fit.data import read_dosing, read_prepared
from il6fit.diagnostics import Thresholds, sampler_failures
from il6fit.escalation import Escalation
from il6fit.inference import fit_model
from il6fit.logs import log_to
from il6fit.models import get_model
from il6fit.provenance import input_hashes
from il6fit.sampling import SamplerSettings
from il6fit.storage import StorePolicy, annotate, save

log_to(snakemake.log[0])
# a new cache starts from the kernels other fits compiled (this model's first)
copied = seed_compile_cache(snakemake.params.compile_cache)
if copied:
    logging.getLogger(__name__).info("compile cache started from %d files of other fits", copied)

subjects, measurements = read_prepared(snakemake.input.subjects, snakemake.input.measurements)
# the dosing records, for a family that reads them (the workflow gives them to no other)
dosing = read_dosing(snakemake.input.dosing) if "dosing" in snakemake.input.keys() else None
settings = SamplerSettings(**snakemake.params.sampler, cores=snakemake.threads)
family = get_model(snakemake.params.family)
escalate = dict(snakemake.params.escalation or {})  # empty unless `on_failure: escalate`
judge = escalation = None
if escalate:
    thresholds = Thresholds(**escalate.pop("thresholds"))
    judge = partial(sampler_failures, family=family, thresholds=thresholds)
    escalation = Escalation(**escalate)
tree, _ = fit_model(
    family,
    subjects,
    measurements,
    options=snakemake.params.options,
    settings=settings,
    seed=snakemake.params.seed,
    judge=judge,
    escalation=escalation,
    dosing=dosing,
)
annotate(
    tree,
    model=snakemake.wildcards.model,
    family=family.name,
    dataset=snakemake.wildcards.dataset,
    seed=snakemake.params.seed,
    settings=settings,
    config=snakemake.params.run_config,
    inputs=input_hashes(snakemake.input),
)
save(tree, snakemake.output.fit, StorePolicy(**snakemake.params.store))
