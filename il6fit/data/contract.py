"""The data contract: columns, parameter codes, canonical units and plausible ranges.

Two tables in the CDISC ADaM style, each described by a JSON Schema shipped with the package
(``il6fit/data/schemas/*.schema.yaml``; ``workflow/schemas/`` holds copies a test keeps equal):

* subjects, one row per subject (like ADSL);
* measurements, long, one row per subject, parameter and visit (like a BDS table).

Everything below is read from those two files, so the schema is the one source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import yaml


def load_schema(table: str) -> dict:
    """Return the JSON Schema of an input table.

    Parameters
    ----------
    table : str
        ``"subjects"`` or ``"measurements"``.

    Returns
    -------
    dict
        The schema of one row, with il6fit's annotations (``unit``, and ``parameters`` for
        measurements).
    """
    text = (
        resources.files("il6fit.data").joinpath(f"schemas/{table}.schema.yaml").read_text("utf-8")
    )
    return yaml.safe_load(text)


@dataclass(frozen=True)
class Parameter:
    """One measured parameter (a PARAMCD).

    Parameters
    ----------
    code : str
        The PARAMCD.
    label : str
        Human-readable name.
    unit : str
        Canonical unit, the one every value is converted to.
    conversions : dict of str to float
        Accepted unit spellings and the factor that converts a value in that unit to ``unit``.
    lower, upper : float
        Plausible range in the canonical unit; values outside it are errors.
    lower_inclusive : bool
        Whether ``lower`` itself is allowed (concentrations must be > 0).
    censorable : bool
        Whether results may lie beyond an assay limit (``<x``, ``>x``).
    categories : dict of str to int
        For a response parameter (EULAR, ACR20/50/70): the codes allowed in ``AVALC`` and the
        number each is stored as in ``AVAL``; empty for a numeric parameter.
    """

    code: str
    label: str
    unit: str
    conversions: dict[str, float]
    lower: float
    upper: float
    lower_inclusive: bool = True
    censorable: bool = False
    categories: dict[str, int] = field(default_factory=dict)


def _parameter(code: str, spec: dict) -> Parameter:
    inclusive = "exclusiveMinimum" not in spec
    return Parameter(
        code=code,
        label=spec["label"],
        unit=spec["unit"],
        conversions={str(unit): float(f) for unit, f in spec["units"].items()},
        lower=float(spec["minimum"] if inclusive else spec["exclusiveMinimum"]),
        upper=float(spec["maximum"]),
        lower_inclusive=inclusive,
        censorable=bool(spec.get("censorable", False)),
        categories={str(c): int(n) for c, n in spec.get("categories", {}).items()},
    )


#: JSON Schemas of one row of each input table.
SUBJECTS_SCHEMA = load_schema("subjects")
MEASUREMENTS_SCHEMA = load_schema("measurements")

#: Required columns of the subjects table.
SUBJECT_COLUMNS = tuple(SUBJECTS_SCHEMA["required"])

#: Required columns of the measurements table.
MEASUREMENT_COLUMNS = tuple(MEASUREMENTS_SCHEMA["required"])
#: Columns of which a measurements table needs at least one: where each result's visit comes from.
VISIT_COLUMNS = tuple(branch["required"][0] for branch in MEASUREMENTS_SCHEMA["anyOf"])
#: Optional columns of the measurements table (added empty when absent).
OPTIONAL_MEASUREMENT_COLUMNS = tuple(
    c for c in MEASUREMENTS_SCHEMA["properties"] if c not in MEASUREMENT_COLUMNS
)

#: Every parameter il6fit knows. 1 mg/dL = 10 mg/L; 1 ng/L = 1 pg/mL (domain-facts.md §2b).
PARAMETERS: dict[str, Parameter] = {
    code: _parameter(code, spec) for code, spec in MEASUREMENTS_SCHEMA["parameters"].items()
}

#: Canonical unit of each parameter.
CANONICAL_UNITS = {code: p.unit for code, p in PARAMETERS.items()}

#: Parameters whose results can be censored at an assay limit.
CENSORABLE = tuple(code for code, p in PARAMETERS.items() if p.censorable)

#: Response parameters: results are categories (``AVALC``), stored as their numbers.
CATEGORICAL = tuple(code for code, p in PARAMETERS.items() if p.categories)
