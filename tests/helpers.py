"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

import pandas as pd

from il6fit.data import read_table

SUBJECTS_HEADER = "USUBJID,STUDYID,SITEID,TRT01P,AGE,SEX,BMI"
MEASUREMENTS_HEADER = "USUBJID,PARAMCD,AVAL,AVALC,AVALU,AVISITN"


def read_pair(subjects: str, measurements: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a subjects and a measurements file."""
    return read_table(subjects), read_table(measurements)
