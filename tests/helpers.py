"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

import pandas as pd

from il6fit.data import read_table
from il6fit.data.read import ROW

SUBJECTS_HEADER = "USUBJID,STUDYID,SITEID,TRT01P,AGE,SEX,BMI"
MEASUREMENTS_HEADER = "USUBJID,PARAMCD,AVAL,AVALC,AVALU,AVISITN"


def as_read(table: pd.DataFrame, first_row: int = 2) -> pd.DataFrame:
    """Turn an in-memory table into what read_table returns for the same CSV."""
    out = table.astype(str).replace("nan", "")
    out[ROW] = range(first_row, first_row + len(out))
    return out


def read_pair(subjects: str, measurements: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a subjects and a measurements file."""
    return read_table(subjects), read_table(measurements)
