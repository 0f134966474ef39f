import logging

from il6fit.data.tongji import import_tongji
from il6fit.logs import log_to

log_to(snakemake.log[0])

imported = import_tongji(snakemake.input.source)
imported.subjects.to_csv(snakemake.output.subjects, index=False)
imported.measurements.to_csv(snakemake.output.measurements, index=False)
imported.ledger.to_csv(snakemake.output.ledger, index=False)
logging.getLogger(__name__).info(
    "%d source rows: %s; %d subjects, %d results",
    len(imported.ledger),
    imported.ledger["status"].value_counts().to_dict(),
    len(imported.subjects),
    len(imported.measurements),
)
