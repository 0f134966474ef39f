"""Cell text: invisible characters removed on reading, look-alike characters shown in messages.

Exports from spreadsheets and lab systems carry characters a user cannot see (a zero-width
space, a byte-order mark inside a cell, a no-break space) or cannot tell apart from others (the
micro sign and the Greek mu, a Cyrillic 'С' and a Latin 'C'). :func:`clean` removes the
invisible ones from every cell read; :func:`unit_key` folds equivalent spellings of a unit; and
:func:`visible` spells out, in an error message, every character that is not plain ASCII, so a
rejected value never looks identical to the one the message asks for.
"""

from __future__ import annotations

import unicodedata

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Characters that take no space: zero-width space, non-joiner and joiner, word joiner, and the
#: byte-order mark (U+FEFF), which some exports leave inside cells. Removed from every cell.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
#: Spaces that look like a space but are not one: no-break, figure and narrow no-break space.
#: Read as a plain space.
ODD_SPACES = "\u00a0\u2007\u202f"

_INVISIBLE = f"[{ZERO_WIDTH}]"
_ODD_SPACE = f"[{ODD_SPACES}]"
_CLEANED = str.maketrans({**dict.fromkeys(ZERO_WIDTH), **dict.fromkeys(ODD_SPACES, " ")})
_CONTROL_NAMES = {"\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\x00": "NUL"}


def clean(cells: pd.Series) -> pd.Series:
    r"""Drop zero-width characters, read odd spaces as spaces and strip each cell.

    Parameters
    ----------
    cells : pandas.Series
        Text cells.

    Returns
    -------
    pandas.Series
        The cells without invisible characters or surrounding white space.

    Examples
    --------
    >>> clean(pd.Series(["CRP\u200b", "\u00a06\u00a0", "mm\u00a0VAS"])).tolist()
    ['CRP', '6', 'mm VAS']
    """
    # every character cleaned away is outside ASCII, and a check for that is fast
    if cells.str.isascii().all():
        return cells.str.strip()
    cells = cells.str.replace(_INVISIBLE, "", regex=True)
    return cells.str.replace(_ODD_SPACE, " ", regex=True).str.strip()


def clean_name(name: str) -> str:
    r"""Apply :func:`clean` to one text, such as a column name.

    Examples
    --------
    >>> clean_name("\u200bAVAL\u00a0")
    'AVAL'
    """
    return name.translate(_CLEANED).strip()


def unit_key(unit: str) -> str:
    r"""Return the form of a unit used to look it up, folding equivalent spellings into one.

    Unicode NFKC normalisation maps the micro sign (U+00B5) to the Greek mu (U+03BC), and
    full-width letters to plain ones, so that ``µg/mL`` is found whichever is typed.

    Examples
    --------
    >>> unit_key("\u00b5g/mL") == unit_key("\u03bcg/mL")
    True
    """
    return unicodedata.normalize("NFKC", unit)


def visible(text: object) -> str:
    r"""Quote a value for a message, spelling out each character that is not plain ASCII.

    A value of printable ASCII is just quoted. Otherwise the quoted value is followed by the
    same text with every other character written as ``<U+XXXX NAME>``, so that a look-alike
    (a Cyrillic letter, a Greek mu for a micro sign) or an invisible character shows.

    Parameters
    ----------
    text : object
        The value (turned into text).

    Returns
    -------
    str
        The quoted value, and its spelled-out form where it holds other characters.

    Examples
    --------
    >>> visible("IL-6")
    "'IL-6'"
    >>> visible("\u0421RP")
    "'СRP' (<U+0421 CYRILLIC CAPITAL LETTER ES>RP)"
    """
    text = str(text)
    if text.isascii() and text.isprintable():
        return f"'{text}'"
    spelled = "".join(c if c.isascii() and c.isprintable() else _code_point(c) for c in text)
    return f"'{text}' ({spelled})"


def _code_point(char: str) -> str:
    """``<U+XXXX NAME>`` for one character."""
    name = unicodedata.name(char, _CONTROL_NAMES.get(char, "CONTROL CHARACTER"))
    return f"<U+{ord(char):04X} {name}>"


def as_floats(text: pd.Series) -> pd.Series:
    """Parse text cells as floats: empty cells and unparseable ones NaN (``pd.to_numeric``).

    Arrow's parser reads a million cells in hundredths of a second; only a column holding some
    cell it cannot read goes through ``pd.to_numeric`` (with ``errors="coerce"``), whose result
    is then the same. Text such as ``inf`` or ``nan`` reads as that value either way.

    Parameters
    ----------
    text : pandas.Series
        Text cells, missing values empty.

    Returns
    -------
    pandas.Series
        Floats on the same index.

    Examples
    --------
    >>> as_floats(pd.Series(["1.5", "", "2e3"])).tolist()
    [1.5, nan, 2000.0]
    >>> as_floats(pd.Series(["1.5", "n.d."])).tolist()
    [1.5, nan]
    """
    cells = pa.array(text.astype(str), type=pa.string())
    try:
        values = pc.cast(pc.if_else(pc.equal(cells, ""), None, cells), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(text.where(text != ""), errors="coerce").astype(float)
    return pd.Series(values.to_numpy(zero_copy_only=False), index=text.index, dtype=float)
