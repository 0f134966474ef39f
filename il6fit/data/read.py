"""Read clinical tables from CSV, Parquet or SAS XPORT, keeping every cell as text."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyreadstat

from il6fit.errors import DataError

#: Column added to every table read: the row's number in its file, as a user would count it
#: (CSV: the line number with the header as line 1; Parquet and XPORT: the record number).
ROW = "_row"

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xpt": "xport"}
_FIRST_ROW = {"csv": 2, "parquet": 1, "xport": 1}
_EXPORT_HINT = {
    "csv": "UTF-8 CSV with a header line",
    "parquet": "Parquet",
    "xport": "SAS XPORT (version 5)",
}


def as_read(table: pd.DataFrame, first_row: int = 2) -> pd.DataFrame:
    """Turn an in-memory table into what :func:`read_table` returns for the same CSV.

    Parameters
    ----------
    table : pandas.DataFrame
        A table, such as a simulated one.
    first_row : int
        File row number of the first record.

    Returns
    -------
    pandas.DataFrame
        Every cell as text (missing values empty) and the row numbers in ``_row``.

    Examples
    --------
    >>> as_read(pd.DataFrame({"AVAL": [1.5, None]})).to_dict("list")
    {'AVAL': ['1.5', ''], '_row': [2, 3]}
    """
    # pandas 3 keeps missing values missing through astype(str), so blank them first
    out = table.astype(object).where(table.notna(), "").astype(str)
    out[ROW] = range(first_row, first_row + len(out))
    return out


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
            table = _read_csv(path)
        elif kind == "parquet":
            table = _as_text(pd.read_parquet(path))
        else:
            table = _as_text(pyreadstat.read_xport(str(path))[0])
    except (
        ValueError,
        OSError,
        UnicodeDecodeError,
        csv.Error,
        pa.ArrowException,
        pyreadstat.ReadstatError,
    ) as err:
        raise DataError(
            str(path),
            f"cannot be read as {kind}: {err}",
            fix="export the table again as " + _EXPORT_HINT[kind] + ".",
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    table = table.apply(lambda col: col.str.strip())
    table[ROW] = range(_FIRST_ROW[kind], _FIRST_ROW[kind] + len(table))
    # a blank line holds no record; dropped after numbering so row numbers stay the file's own
    table = table[(table.drop(columns=ROW) != "").any(axis=1)]
    if table.empty:
        raise DataError(
            str(path), "the file has a header but no data rows.", fix="supply the data rows."
        )
    return table.reset_index(drop=True)


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file as text, rejecting duplicate column names and rows of the wrong width."""
    # utf-8-sig drops a byte-order mark that would otherwise stick to the first column name
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    seen = set()
    for name in header:
        if name.strip() in seen:
            raise DataError(
                str(path),
                f"column {name.strip()} appears twice in the header.",
                row=1,
                column=name.strip(),
                fix="give every column a distinct name.",
            )
        seen.add(name.strip())
    ragged = []

    def note(row) -> str:
        ragged.append(row)
        return "skip"

    table = pa_csv.read_csv(
        path,
        # one thread, so that a bad row's line number is known
        read_options=pa_csv.ReadOptions(use_threads=False),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=note, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if ragged:
        first = ragged[0]
        raise DataError(
            str(path),
            f"this row has {first.actual_columns} fields but the header has "
            f"{first.expected_columns}: '{first.text[:80]}'.",
            row=first.number,
            fix="quote values that contain a comma, and give every row one field per column.",
        )
    return table.to_pandas()


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
