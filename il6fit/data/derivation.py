"""Censoring at assay limits, exclusion rules and derived DAS28, EULAR response and remission."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from il6fit.data.checks import _KEY, _first
from il6fit.data.contract import CENSORABLE, PARAMETERS
from il6fit.data.read import ROW
from il6fit.data.scores import DAS28_REMISSION, das28_crp, das28_esr, eular_response
from il6fit.errors import DataError, SpecError

#: Columns of the prepared measurements table.
PREPARED_COLUMNS = ("USUBJID", "PARAMCD", "AVISITN", "AVAL", "AVALU", "CENS", "SOURCE", "ROW")
#: Columns of the per-subject response table.
RESPONSE_COLUMNS = (
    "USUBJID",
    "TRT01P",
    "PARAMCD",
    "LANDMARK",
    "BASE",
    "AVAL",
    "CHG",
    "EULAR",
    "REMISS",
)

_DAS28_TOLERANCE = 0.01


def response_table(
    measurements: pd.DataFrame, subjects: pd.DataFrame, *, landmark_week: float
) -> pd.DataFrame:
    """EULAR response and remission per subject and DAS28 score at a landmark week.

    Parameters
    ----------
    measurements : pandas.DataFrame
        Prepared measurements (:data:`PREPARED_COLUMNS`).
    subjects : pandas.DataFrame
        The subjects table (for ``TRT01P``).
    landmark_week : float
        The assessment visit; baseline is week 0.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RESPONSE_COLUMNS`, one row per subject and score with a baseline or a
        landmark value.
    """
    scores = measurements[measurements["PARAMCD"].isin(["DAS28CRP", "DAS28ESR"])]
    wide = scores[scores["AVISITN"].isin([0, landmark_week])].pivot_table(
        index=["USUBJID", "PARAMCD"], columns="AVISITN", values="AVAL", aggfunc="first"
    )
    wide = wide.reindex(columns=[0.0, float(landmark_week)])
    base, current = wide.iloc[:, 0].to_numpy(), wide.iloc[:, 1].to_numpy()
    table = pd.DataFrame(
        {
            "USUBJID": wide.index.get_level_values("USUBJID"),
            "PARAMCD": wide.index.get_level_values("PARAMCD"),
            "LANDMARK": float(landmark_week),
            "BASE": base,
            "AVAL": current,
            "CHG": current - base,
            "EULAR": eular_response(base, current),
            "REMISS": np.where(
                np.isnan(current), "", np.where(current < DAS28_REMISSION, "Y", "N")
            ),
        }
    )
    table = table.merge(subjects[["USUBJID", "TRT01P"]], on="USUBJID", how="left")
    return table[list(RESPONSE_COLUMNS)]


def _excluded_by_rules(
    meas: pd.DataFrame, subjects: pd.DataFrame, rules: Sequence[Mapping]
) -> pd.Series:
    """Ledger reasons of the rows matched by the config's exclusion rules (first rule wins)."""
    arm = meas["USUBJID"].map(subjects.set_index("USUBJID")["TRT01P"])
    reasons = pd.Series(dtype=str)
    for n, rule in enumerate(rules):
        codes = [rule["paramcd"]] if isinstance(rule["paramcd"], str) else list(rule["paramcd"])
        unknown = [c for c in codes if c not in PARAMETERS]
        if unknown:
            raise SpecError(
                f"prepare.exclude[{n}]: unknown PARAMCD {', '.join(unknown)}; use one of "
                f"{', '.join(PARAMETERS)}."
            )
        match = meas["PARAMCD"].isin(codes) & meas["AVISITN"].notna()
        what = [f"{'/'.join(codes)}"]
        if "after_week" in rule:
            match &= meas["AVISITN"] > rule["after_week"]
            what.append(f"after week {rule['after_week']:g}")
        if "arms_matching" in rule:
            try:
                pattern = re.compile(rule["arms_matching"])
            except re.error as err:
                raise SpecError(
                    f"prepare.exclude[{n}].arms_matching '{rule['arms_matching']}' is not a "
                    f"regular expression: {err}."
                ) from None
            match &= arm.str.contains(pattern, regex=True)
            what.append(f"on arms matching '{rule['arms_matching']}'")
        text = f"prepare.exclude[{n}]: {' '.join(what)}"
        if rule.get("reason"):
            text += f" ({rule['reason']})"
        reasons = reasons.combine_first(pd.Series(text, index=meas.loc[match, ROW].to_numpy()))
    return reasons


def _apply_limits(
    meas: pd.DataFrame, file: str, limits: Mapping[str, Mapping[str, float]]
) -> pd.DataFrame:
    """Censor values at or beyond their assay limits; row limits take precedence over config."""
    meas = meas.copy()
    lloq, uloq = (
        meas[column].fillna(
            meas["PARAMCD"].map({c: v.get(key, np.nan) for c, v in limits.items()}).astype(float)
        )
        for column, key in (("LLOQ", "lloq"), ("ULOQ", "uloq"))
    )
    crossed = (lloq >= uloq).fillna(False)
    if crossed.any():
        i = _first(crossed)
        raise DataError(
            file,
            f"LLOQ {lloq[i]:g} is not below ULOQ {uloq[i]:g}.",
            row=int(meas.at[i, ROW]),
            column="LLOQ",
            fix="swap or correct the limits (both in the row's unit).",
        )
    censorable = meas["PARAMCD"].isin(CENSORABLE) & (meas["CENS"] == 0)
    below = censorable & (meas["AVAL"] <= lloq)
    above = censorable & (meas["AVAL"] >= uloq)
    meas.loc[below, "AVAL"] = lloq[below]
    meas.loc[below, "CENS"] = -1
    meas.loc[above, "AVAL"] = uloq[above]
    meas.loc[above, "CENS"] = 1
    return meas


def _derive_das28(meas: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Derive DAS28 scores where all components are present; report superseded rows."""
    wide = meas.pivot_table(
        index=["USUBJID", "AVISITN"], columns="PARAMCD", values="AVAL", aggfunc="first"
    )
    derived = []
    for score, marker, formula in (
        ("DAS28CRP", "CRP", das28_crp),
        ("DAS28ESR", "ESR", das28_esr),
    ):
        needed = ["TJC28", "SJC28", marker, "PTGA"]
        if not set(needed) <= set(wide.columns):
            continue
        complete = wide[needed].dropna()
        if complete.empty:
            continue
        derived.append(
            pd.DataFrame(
                {
                    "USUBJID": complete.index.get_level_values("USUBJID"),
                    "PARAMCD": score,
                    "AVISITN": complete.index.get_level_values("AVISITN"),
                    "AVAL": formula(*(complete[c] for c in needed)),
                    "AVALU": "score",
                    "CENS": 0,
                    "SOURCE": "derived",
                    "ROW": 0,
                }
            )
        )
    if not derived:
        return pd.DataFrame(columns=list(PREPARED_COLUMNS)), pd.Series(dtype=str)
    derived = pd.concat(derived, ignore_index=True)
    supplied = meas[meas["PARAMCD"].isin(["DAS28CRP", "DAS28ESR"])].merge(
        derived[[*_KEY, "AVAL"]], on=_KEY, suffixes=("", "_derived")
    )
    # one note per supplied score: few rows, so a plain loop reads best
    notes = [
        f"supplied score superseded: {code} derived from its components agrees"
        if abs(given - computed) <= _DAS28_TOLERANCE
        else f"supplied score disagrees: {code} {given:.2f} given, {computed:.2f} derived from its "
        "components (the derived score is used)"
        for code, given, computed in zip(
            supplied["PARAMCD"], supplied["AVAL"], supplied["AVAL_derived"], strict=True
        )
    ]
    return derived, pd.Series(notes, index=supplied[ROW].to_numpy(), dtype=str)
