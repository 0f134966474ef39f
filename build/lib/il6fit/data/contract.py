"""The data contract: columns, parameter codes, canonical units and plausible ranges.

Two tables in the CDISC ADaM style (see ``workflow/schemas/subjects.schema.yaml`` and
``workflow/schemas/measurements.schema.yaml`` for the user-facing description):

* subjects, one row per subject (like ADSL);
* measurements, long, one row per subject, parameter and visit (like a BDS table).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Required columns of the subjects table.
SUBJECT_COLUMNS = ("USUBJID", "STUDYID", "SITEID", "TRT01P", "AGE", "SEX", "BMI")

#: Required columns of the measurements table; ``LLOQ``/``ULOQ``/``ADY`` are optional.
MEASUREMENT_COLUMNS = ("USUBJID", "PARAMCD", "AVAL", "AVALC", "AVALU", "AVISITN")
OPTIONAL_MEASUREMENT_COLUMNS = ("LLOQ", "ULOQ", "ADY")


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
    """

    code: str
    label: str
    unit: str
    conversions: dict[str, float]
    lower: float
    upper: float
    lower_inclusive: bool = True


_CONCENTRATION_MAX = 1e6

#: Every parameter il6fit knows. 1 mg/dL = 10 mg/L; 1 ng/L = 1 pg/mL (domain-facts.md §2b).
PARAMETERS: dict[str, Parameter] = {
    p.code: p
    for p in (
        Parameter(
            "IL6",
            "Interleukin-6",
            "pg/mL",
            {"pg/mL": 1.0, "ng/L": 1.0, "ng/mL": 1000.0},
            0.0,
            _CONCENTRATION_MAX,
            lower_inclusive=False,
        ),
        Parameter(
            "CRP",
            "C-reactive protein",
            "mg/L",
            {"mg/L": 1.0, "mg/dL": 10.0, "ug/mL": 1.0, "µg/mL": 1.0},
            0.0,
            _CONCENTRATION_MAX,
            lower_inclusive=False,
        ),
        Parameter(
            "ESR", "Erythrocyte sedimentation rate", "mm/h", {"mm/h": 1.0, "mm/hr": 1.0}, 0, 200
        ),
        Parameter("TJC28", "Tender joint count (28)", "joints", {"joints": 1.0, "": 1.0}, 0, 28),
        Parameter("SJC28", "Swollen joint count (28)", "joints", {"joints": 1.0, "": 1.0}, 0, 28),
        Parameter(
            "PTGA",
            "Patient global assessment",
            "mm",
            {"mm": 1.0, "cm": 10.0, "mm VAS": 1.0},
            0,
            100,
        ),
        Parameter("DAS28CRP", "DAS28-CRP (4 variables)", "score", {"score": 1.0, "": 1.0}, 0, 10),
        Parameter("DAS28ESR", "DAS28-ESR (4 variables)", "score", {"score": 1.0, "": 1.0}, 0, 10),
    )
}

#: Canonical unit of each parameter.
CANONICAL_UNITS = {code: p.unit for code, p in PARAMETERS.items()}

#: Parameters whose results can be censored at an assay limit.
CENSORABLE = ("IL6", "CRP")
