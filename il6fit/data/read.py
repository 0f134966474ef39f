"""Read clinical tables from CSV, Parquet or SAS XPORT, keeping every cell as text."""

from __future__ import annotations

import codecs
import csv
import datetime
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyreadstat

from il6fit.data.contract import MEASUREMENTS_SCHEMA, SUBJECTS_SCHEMA
from il6fit.data.text import clean, clean_name, visible
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
#: Every column name of the data contract, to recognise a header line.
_KNOWN_COLUMNS = frozenset(SUBJECTS_SCHEMA["properties"]) | frozenset(
    MEASUREMENTS_SCHEMA["properties"]
)
#: How much of a CSV file is looked at to find its header line and separator.
_SNIFF_CHARS, _SNIFF_LINES = 65536, 20
_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe (|)"}
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_SAVE_AS_UTF8 = "save it as UTF-8 CSV (in Excel: 'CSV UTF-8 (Comma delimited)')"


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
    instead of letting a parser coerce or drop it. Zero-width characters are removed from
    every cell and column name, and no-break spaces read as spaces
    (:func:`il6fit.data.text.clean`).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (comma-separated, UTF-8), ``.parquet`` or ``.xpt`` file.

    Returns
    -------
    pandas.DataFrame
        String cells (missing values as ``""``; numbers from Parquet or XPORT as the shortest
        text that reads back as the same value, dates as ``YYYY-MM-DD``), column names
        stripped, plus ``_row``. A named index of a Parquet file becomes a column.

    Raises
    ------
    DataError
        If the file is missing, empty, of an unknown type or cannot be parsed: for a CSV file
        also if it is not UTF-8, not comma-separated, has lines above its header, duplicate
        column names, rows of the wrong width, or a column named ``_row``.
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
            table = _as_text(_index_as_columns(pd.read_parquet(path)))
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
    table.columns = [clean_name(str(c)) for c in table.columns]
    _check_names(list(table.columns), path, header_row=1 if kind == "csv" else None)
    table = table.apply(clean)
    table[ROW] = range(_FIRST_ROW[kind], _FIRST_ROW[kind] + len(table))
    # a blank line holds no record; dropped after numbering so row numbers stay the file's own
    table = table[(table.drop(columns=ROW) != "").any(axis=1)]
    if table.empty:
        raise DataError(
            str(path), "the file has a header but no data rows.", fix="supply the data rows."
        )
    return table.reset_index(drop=True)


def _check_names(names: list[str], path: Path, *, header_row: int | None) -> None:
    """Reject duplicate column names, and the name il6fit gives its row numbers."""
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(
                str(path),
                f"column {name} appears twice in the header."
                if name
                else "more than one column of the header has no name.",
                row=header_row,
                column=name or None,
                fix="give every column a distinct name"
                + ("." if name else ", or delete the empty columns (trailing commas)."),
            )
        seen.add(name)
    if ROW in seen:
        raise DataError(
            str(path),
            f"column {ROW} is reserved by il6fit (it holds each row's number in the file).",
            column=ROW,
            fix="rename or drop the column.",
        )


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file as text, rejecting duplicate column names and rows of the wrong width."""
    data = path.read_bytes()
    head = _decode(data, path)[:_SNIFF_CHARS]
    lines = re.split(r"\r\n?|\n", head, maxsplit=_SNIFF_LINES)[:_SNIFF_LINES]
    _check_header_line(lines, path)
    _check_separator(lines[0], path)
    header = next(csv.reader([lines[0]]), [])
    ragged = []

    def note(row) -> str:
        ragged.append(row)
        return "skip"

    table = pa_csv.read_csv(
        pa.BufferReader(data),
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
            f"{first.expected_columns}: {visible(first.text[:80])}.",
            row=first.number,
            fix="quote values that contain a comma, and give every row one field per column.",
        )
    return table.to_pandas()


def _decode(data: bytes, path: Path) -> str:
    """Return the text of a CSV file, which must be UTF-8 (a byte-order mark is dropped)."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            raise DataError(
                str(path),
                f"the file is {encoding} encoded (it starts with a {encoding} byte-order mark); "
                "il6fit reads UTF-8.",
                fix=f"{_SAVE_AS_UTF8}, or convert it, e.g. `iconv -f {encoding} -t UTF-8`.",
            )
    if b"\x00" in data:
        raise _nul_bytes(data, path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _not_utf8(data, err.start, path) from None


def _nul_bytes(data: bytes, path: Path) -> DataError:
    """Build the error for a file with NUL bytes: UTF-16 without a byte-order mark, or not text."""
    head = data[:4096]
    # plain text in UTF-16 has a NUL in every other byte: odd ones little-endian, even ones big
    for nuls, encoding in ((head[1::2].count(0), "UTF-16LE"), (head[0::2].count(0), "UTF-16BE")):
        if nuls > len(head) // 4:
            return DataError(
                str(path),
                "the file appears to be UTF-16 encoded without a byte-order mark (every other "
                "byte is NUL); il6fit reads UTF-8.",
                fix=f"{_SAVE_AS_UTF8}, or convert it, e.g. `iconv -f {encoding} -t UTF-8`.",
            )
    line = data.count(b"\n", 0, data.index(b"\x00")) + 1
    return DataError(
        str(path),
        f"the file holds NUL bytes (the first on line {line}), so it is not a text file.",
        fix="export the table again as " + _EXPORT_HINT["csv"] + ".",
    )


def _not_utf8(data: bytes, start: int, path: Path) -> DataError:
    """Build the error for a file that is not UTF-8, locating its first offending byte."""
    line = data.count(b"\n", 0, start) + 1
    line_start = data.rfind(b"\n", 0, start) + 1
    header = next(csv.reader([data.split(b"\n", 1)[0].decode("cp1252", "replace")]), [])
    before = data[line_start:start].decode("cp1252", "replace")
    field = len(next(csv.reader([before]), [""])) - 1
    where = f"line {line}" + (f", column {header[field].strip()}" if field < len(header) else "")
    char = data[start : start + 1].decode("cp1252", "replace")
    return DataError(
        str(path),
        f"cannot be read as csv: the file is not UTF-8 encoded: {where} holds byte "
        f"0x{data[start]:02X}, which is not UTF-8 (in Windows-1252 or Latin-1, the usual "
        f"encodings of such exports, it is {visible(char)}).",
        fix=f"{_SAVE_AS_UTF8}, or convert it, e.g. `iconv -f WINDOWS-1252 -t UTF-8`.",
    )


def _check_header_line(lines: list[str], path: Path) -> None:
    """Reject lines (a title, a blank line) above the line holding the column names."""

    def names(line: str) -> list[str]:
        fields = (clean_name(f).strip('"') for f in re.split(r"[,;\t|]", line))
        return [f for f in fields if f in _KNOWN_COLUMNS]

    if names(lines[0]):
        return
    for number, line in enumerate(lines[1:], start=2):
        found = names(line)
        if len(found) >= 2:
            above = "line 1" if number == 2 else f"lines 1 to {number - 1}"
            raise DataError(
                str(path),
                f"line 1 is not the header: it holds {visible(lines[0][:60])}, and the column "
                f"names ({', '.join(found)}) are on line {number}.",
                row=1,
                fix=f"delete {above} above the header, so that line 1 holds the column names.",
            )


def _check_separator(header: str, path: Path) -> None:
    """Reject a file whose header line splits into more names at another separator."""
    # names, not fields: a semicolon-separated header padded with commas has many empty fields
    widths = {
        sep: sum(bool(f.strip()) for f in next(csv.reader([header], delimiter=sep), []))
        for sep in _SEPARATORS
    }
    sep = max(widths, key=widths.get)
    if widths[sep] <= widths[","]:
        return
    name = _SEPARATORS[sep]
    decimal = " and '.' as the decimal point" if sep == ";" else ""
    raise DataError(
        str(path),
        f"the file appears to be {name}-separated: its header line has {widths[sep]} names "
        f"between {name}s but {widths[',']} between commas; il6fit reads comma-separated files.",
        fix=f"export it comma-separated, with ',' between fields{decimal} (in Excel: 'CSV UTF-8 "
        "(Comma delimited)'; where Excel still writes semicolons, set the list separator to ',' "
        "and the decimal separator to '.' in the system's region settings).",
    )


def _index_as_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Turn a named index, which pandas writes into Parquet files, back into columns."""
    named = [name for name in table.index.names if name is not None]
    if not named or isinstance(table.index, pd.RangeIndex):
        return table.reset_index(drop=True)
    return table.reset_index(level=named).reset_index(drop=True)


def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Turn every column into strings, with missing values as empty strings."""
    out = pd.DataFrame(index=table.index)
    for name, col in table.items():
        out[name] = _column_text(col)
    return out


def _column_text(col: pd.Series) -> pd.Series:
    """One typed column as the text a CSV export of it would hold."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    if pd.api.types.is_datetime64_any_dtype(col):
        # the date part; a time of day does not change the study day
        return col.dt.strftime("%Y-%m-%d").fillna("").astype(str)
    if pd.api.types.is_float_dtype(col):
        # in the column's own precision, so a float32 0.03 reads "0.03", not "0.0299999993"
        precision = np.dtype(getattr(col.dtype, "numpy_dtype", col.dtype))
        values = col.to_numpy(dtype=precision, na_value=np.nan)
        return pd.Series([_number_text(v) for v in values], index=col.index, dtype=str)
    return col.map(_cell_text).astype(str)


def _number_text(value: np.floating) -> str:
    """Write ``value`` as the shortest text that reads back as it in its own precision.

    Examples
    --------
    >>> [_number_text(v) for v in np.array([0.03, 28, np.nan], dtype=np.float32)]
    ['0.03', '28', '']
    """
    return "" if np.isnan(value) else str(value).removesuffix(".0")


def _cell_text(value: object) -> str:
    """One cell of an untyped (object) column as text; a date as ``YYYY-MM-DD``."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    if isinstance(value, datetime.date | np.datetime64):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if isinstance(value, float):
        return _number_text(np.float64(value))
    return str(value)
