"""Errors il6fit raises for problems a user can fix."""

from __future__ import annotations


class Il6fitError(Exception):
    """Base class of every error il6fit raises on purpose."""


class DataError(Il6fitError):
    """Bad input data, located by file, row and column.

    Parameters
    ----------
    file : str
        The input file.
    problem : str
        What is wrong.
    row : int, optional
        Line number in the file (the header is line 1), if the problem is in one row.
    column : str, optional
        The column, if the problem is in one column.
    fix : str, optional
        How to fix it.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ):
        self.file = file
        self.row = row
        self.column = column
        self.problem = problem
        self.fix = fix
        where = [str(file)]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        message = f"{', '.join(where)}: {problem}"
        if fix:
            message += f" Fix: {fix}"
        super().__init__(message)


class SpecError(Il6fitError):
    """An invalid model, prior or sampler specification."""


class FitFailedError(Il6fitError):
    """A fit failed the diagnostics gate under the ``stop`` policy."""
