"""Clinical tables: the data contract, reading, unit harmonisation, scores and the ledger."""

from il6fit.data.contract import CANONICAL_UNITS, MEASUREMENT_COLUMNS, PARAMETERS, SUBJECT_COLUMNS
from il6fit.data.derivation import response_table
from il6fit.data.prepare import Prepared, prepare, read_dosing, read_prepared
from il6fit.data.read import as_read, read_table
from il6fit.data.scores import das28_crp, das28_esr, eular_response

__all__ = [
    "CANONICAL_UNITS",
    "MEASUREMENT_COLUMNS",
    "PARAMETERS",
    "SUBJECT_COLUMNS",
    "Prepared",
    "as_read",
    "das28_crp",
    "das28_esr",
    "eular_response",
    "prepare",
    "read_dosing",
    "read_prepared",
    "read_table",
    "response_table",
]
