import json
import logging

from il6fit.logs import log_to
from il6fit.simulate import scenario, simulate_cohort

log_to(snakemake.log[0])

options = dict(snakemake.params.spec)
spec = scenario(options.pop("scenario"), **options)
subjects, measurements, truth = simulate_cohort(spec, snakemake.params.seed)
subjects.to_csv(snakemake.output.subjects, index=False)
measurements.to_csv(snakemake.output.measurements, index=False)
with open(snakemake.output.truth, "w") as handle:
    json.dump(truth, handle, indent=1)
logging.getLogger(__name__).info(
    "simulated %d subjects and %d results", len(subjects), len(measurements)
)
