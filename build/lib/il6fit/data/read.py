"""Read clinical tables from CSV, Parquet or SAS XPORT, keeping every cell as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from il6fit.errors import DataError

#: Column added to every table read: the row's number in its file, as a user would count it
#: (CSV: the line number with the header as line 1; Parquet and XPORT: the record number).
ROW = "_row"

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xpt": "xport"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table with every cell as a string and its file row number in ``_row``.

    Keeping cells as text lets validation report the exact offending value, row and column
    instead of letting a parser coerce or drop it.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.xpt`` file.

    Returns
    -------
    pandas.DataFrame
        String cells (missing values as ``""``), column names stripped, plus ``_row``.

    Raises
    ------
    DataError
        If the file is missing, empty, of an unknown type or cannot be parsed.
    """
    path = Path(path)
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(
            str(path),
            f"unknown file type '{path.suffix}'.",
            fix=f"use one of {', '.join(sorted(READERS))}.",
        )
    if not path.is_file():
        raise DataError(str(path), "the file does not exist.", fix="check the path in the config.")
    if path.stat().st_size == 0:
        raise DataError(str(path), "the file is empty.", fix="supply a header and data rows.")
    try:
        if kind == "csv":
            # utf-8-sig drops a byte-order mark that would otherwise stick to the first column name
            table = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True
            )
            first_row = 2
        elif kind == "parquet":
            table = _as_text(pd.read_parquet(path))
            first_row = 1
        else:
            table = _as_text(pyreadstat.read_xport(str(path))[0])
            first_row = 1
    except (
        ValueError,
        OSError,
        UnicodeDecodeError,
        pd.errors.ParserError,
        pyreadstat.ReadstatError,
    ) as err:
        raise DataError(str(path), f"cannot be read as {kind}: {err}") from None
    table.columns = [str(c).strip() for c in table.columns]
    if table.empty:
        raise DataError(str(path), "the file has a header but no data rows.")
    table = table.apply(lambda col: col.str.strip())
    table[ROW] = range(first_row, first_row + len(table))
    return table.reset_index(drop=True)


def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Turn every column into strings, with missing values as empty strings."""
    out = pd.DataFrame(index=table.index)
    for name, col in table.items():
        if pd.api.types.is_float_dtype(col):
            # 28.0 from a numeric column should read as "28", as it would in a CSV
            text = col.map(lambda v: "" if pd.isna(v) else f"{v:.15g}")
        else:
            text = col.map(lambda v: "" if pd.isna(v) else str(v))
        out[name] = text.astype(str)
    return out
