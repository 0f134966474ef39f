import logging

from il6fit.data import prepare, read_table
from il6fit.logs import log_to

log_to(snakemake.log[0])

files = snakemake.input
dosing = {}
if "dosing" in files.keys():
    dosing = {"dosing": read_table(files.dosing), "dosing_file": files.dosing}
prepared = prepare(
    read_table(files.subjects),
    read_table(files.measurements),
    subjects_file=files.subjects,
    measurements_file=files.measurements,
    subject_columns=snakemake.params.subject_columns,
    **dosing,
    **snakemake.params.options,
)
prepared.subjects.to_csv(snakemake.output.subjects, index=False)
prepared.measurements.to_csv(snakemake.output.measurements, index=False)
prepared.ledger.to_csv(snakemake.output.ledger, index=False)
prepared.response.to_csv(snakemake.output.response, index=False)
prepared.dosing.to_csv(snakemake.output.dosing, index=False)
logging.getLogger(__name__).info(
    "%d input rows: %s",
    len(prepared.ledger),
    prepared.ledger["status"].value_counts().to_dict(),
)
