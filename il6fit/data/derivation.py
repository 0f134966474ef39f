"""Censoring at assay limits, exclusion rules and derived DAS28, EULAR response and remission.

A DAS28 score is increasing in each of its components, so a score derived from a result beyond
an assay limit is itself known only within bounds, and is stored so, never as exact: CRP below
its LLOQ L gives a score below f(L) (``CENS`` -1, ``AVAL`` f(L); the score lies in
[f(CRP 0), f(L)], f(0) = f(L) - 0.36 ln(L + 1)), CRP above its ULOQ U a score above f(U)
(``CENS`` +1); the same for any component that can be censored. A category derived from such
scores (EULAR response, remission) is given only where it is the same at every value the scores
can take (:func:`il6fit.data.scores.eular_possible`); elsewhere it is empty and the response
table's ``NOTE`` says why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from il6fit.data.checks import _KEY, _first
from il6fit.data.contract import CATEGORICAL, CENSORABLE, PARAMETERS
from il6fit.data.read import ROW
from il6fit.data.scores import (
    EULAR_CATEGORIES,
    das28_crp,
    das28_esr,
    eular_possible,
    eular_response_bounded,
    remission_bounded,
)
from il6fit.errors import DataError, SpecError

log = logging.getLogger(__name__)

#: Columns of the prepared measurements table.
PREPARED_COLUMNS = ("USUBJID", "PARAMCD", "AVISITN", "AVAL", "AVALU", "CENS", "SOURCE", "ROW")
#: Columns of the per-subject response table.
RESPONSE_COLUMNS = (
    "USUBJID",
    "TRT01P",
    "PARAMCD",
    "LANDMARK",
    "BASE",
    "BASECENS",
    "AVAL",
    "CENS",
    "CHG",
    "EULAR",
    "REMISS",
    "NOTE",
)
#: DAS28 scores derived from components: the acute-phase marker and the formula of each.
DAS28_FORMULAS = {"DAS28CRP": ("CRP", das28_crp), "DAS28ESR": ("ESR", das28_esr)}

_DAS28_TOLERANCE = 0.01
_SCORE_COLUMNS = ["USUBJID", "PARAMCD", "AVISITN", "AVAL", "CENS"]


def _components(score: str) -> list[str]:
    """Return the components of a DAS28 score, in its formula's order."""
    return ["TJC28", "SJC28", DAS28_FORMULAS[score][0], "PTGA"]


def response_table(
    measurements: pd.DataFrame, subjects: pd.DataFrame, *, landmark_week: float
) -> pd.DataFrame:
    """EULAR response and remission per subject and DAS28 score at a landmark week.

    A censored score (derived from a component beyond its assay limit) is known only within
    bounds (:func:`score_intervals`); its categories are given where the bounds decide them
    and are empty otherwise, with the reason in ``NOTE``.

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
        landmark value: ``BASE``/``BASECENS`` and ``AVAL``/``CENS`` the scores and their
        censoring (as in the measurements), ``CHG`` their difference (empty unless both are
        exact), ``EULAR`` and ``REMISS`` the categories (empty where unknown or not decided by
        the bounds), ``NOTE`` why a category of a censored score is empty, or that the bounds
        decide it.
    """
    scores = score_intervals(measurements).set_index(["USUBJID", "PARAMCD"])
    at = {
        visit: scores[scores["AVISITN"] == visit].groupby(level=[0, 1]).first()
        for visit in (0.0, float(landmark_week))
    }
    wide = at[0.0].join(at[float(landmark_week)], how="outer", suffixes=("_base", "")).sort_index()
    base, current = wide["AVAL_base"].to_numpy(float), wide["AVAL"].to_numpy(float)
    exact = (wide["CENS_base"] == 0) & (wide["CENS"] == 0)
    bounds = [wide[c].to_numpy(float) for c in ("LOW_base", "HIGH_base", "LOW", "HIGH")]
    possible = eular_possible(*bounds)
    remission = remission_bounded(*bounds[2:])
    table = pd.DataFrame(
        {
            "USUBJID": wide.index.get_level_values("USUBJID"),
            "PARAMCD": wide.index.get_level_values("PARAMCD"),
            "LANDMARK": float(landmark_week),
            "BASE": base,
            "BASECENS": wide["CENS_base"].astype("Int64").to_numpy(),
            "AVAL": current,
            "CENS": wide["CENS"].astype("Int64").to_numpy(),
            "CHG": np.where(exact, current - base, np.nan),
            "EULAR": eular_response_bounded(*bounds),
            "REMISS": remission,
            "NOTE": _censoring_notes(wide, landmark_week, possible, remission),
        }
    )
    undecided = (table["NOTE"] != "") & ((table["EULAR"] == "") | (table["REMISS"] == ""))
    if undecided.any():
        log.info(
            "%d subject-score pairs with a censored DAS28 have a category the bounds leave "
            "open (response table NOTE)",
            int(undecided.sum()),
        )
    table = table.merge(subjects[["USUBJID", "TRT01P"]], on="USUBJID", how="left")
    return table[list(RESPONSE_COLUMNS)]


def _censoring_notes(
    wide: pd.DataFrame, landmark_week: float, possible: np.ndarray, remission: np.ndarray
) -> list[str]:
    """Per row of the response table: its censored scores and what their bounds leave open."""
    notes = []
    rows = zip(
        *(wide[c].to_numpy() for c in ("CENS_base", "AVAL_base", "CENS", "AVAL")),
        possible,
        remission,
        strict=True,
    )
    for base_cens, base, cens, current, can_be, remiss in rows:
        parts = [
            f"week {week:g} score {'below' if flag < 0 else 'above'} {value:.2f}"
            for week, flag, value in ((0, base_cens, base), (landmark_week, cens, current))
            if pd.notna(flag) and flag != 0
        ]
        if not parts:
            notes.append("")
            continue
        open_ = []
        if can_be.sum() > 1:
            open_.append(
                "EULAR could be "
                + " or ".join(c for c, p in zip(EULAR_CATEGORIES, can_be, strict=True) if p)
            )
        if remiss == "" and pd.notna(cens):
            open_.append("remission could be Y or N")
        detail = "; ".join(open_) if open_ else "the bounds decide the categories"
        notes.append(f"censored score ({', '.join(parts)}; a component beyond its limit): {detail}")
    return notes


def score_intervals(measurements: pd.DataFrame) -> pd.DataFrame:
    """DAS28 scores of a prepared table with the interval each one lies in.

    Parameters
    ----------
    measurements : pandas.DataFrame
        Prepared measurements, with the components of derived scores.

    Returns
    -------
    pandas.DataFrame
        ``USUBJID``, ``PARAMCD``, ``AVISITN``, ``AVAL``, ``CENS`` of every DAS28 row, and
        ``LOW``, ``HIGH``: ``AVAL`` both for an exact score; for a censored one the score at
        the censored components' plausible range ends (CRP 0 mg/L below its LLOQ), or
        ``-inf``/``inf`` if its components are not in the table.
    """
    scores = measurements.loc[measurements["PARAMCD"].isin(DAS28_FORMULAS), _SCORE_COLUMNS]
    recomputed = _das28_from_components(measurements)[[*_KEY, "LOW", "HIGH"]]
    scores = scores.astype({"AVISITN": float, "AVAL": float, "CENS": int}).merge(
        recomputed, on=_KEY, how="left"
    )
    scores["LOW"] = scores["AVAL"].where(scores["CENS"] >= 0, scores["LOW"].fillna(-np.inf))
    scores["HIGH"] = scores["AVAL"].where(scores["CENS"] <= 0, scores["HIGH"].fillna(np.inf))
    return scores


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


#: Relative difference below which a value is at an assay limit.
_AT_LIMIT = 1e-9


def _apply_limits(
    meas: pd.DataFrame, file: str, limits: Mapping[str, Mapping[str, float]]
) -> pd.DataFrame:
    """Censor values at or beyond their assay limits; row limits take precedence over config.

    Config limits are checked first (a :class:`~il6fit.errors.SpecError` names the entry of
    ``prepare.limits``); a row whose own limits, or own limit and a config limit, are crossed
    is a :class:`~il6fit.errors.DataError` saying where each limit comes from.
    """
    _check_limit_config(limits)
    meas = meas.copy()
    config = {
        key: meas["PARAMCD"].map({c: v.get(key, np.nan) for c, v in limits.items()}).astype(float)
        for key in ("lloq", "uloq")
    }
    lloq, uloq = meas["LLOQ"].fillna(config["lloq"]), meas["ULOQ"].fillna(config["uloq"])
    crossed = (lloq >= uloq).fillna(False)
    if crossed.any():
        i = _first(crossed)
        raise _crossed_limits(meas.loc[i], file, lloq[i], uloq[i])
    censorable = meas["PARAMCD"].isin(CENSORABLE) & (meas["CENS"] == 0)
    # a value converted from another unit may miss its limit in the last bits (0.07 mg/dL is
    # 0.7000000000000001 mg/L): within _AT_LIMIT of it, it is at the limit
    below = censorable & ((meas["AVAL"] <= lloq) | _at(meas["AVAL"], lloq))
    above = censorable & ((meas["AVAL"] >= uloq) | _at(meas["AVAL"], uloq))
    meas.loc[below, "AVAL"] = lloq[below]
    meas.loc[below, "CENS"] = -1
    meas.loc[above, "AVAL"] = uloq[above]
    meas.loc[above, "CENS"] = 1
    return meas


def _at(values: pd.Series, limits: pd.Series) -> np.ndarray:
    """Whether each value equals its limit up to a relative ``_AT_LIMIT``."""
    return np.isclose(values, limits, rtol=_AT_LIMIT, atol=0)


def _check_limit_config(limits: Mapping[str, Mapping[str, float]]) -> None:
    """Raise a SpecError for an entry of ``prepare.limits`` that cannot be right."""
    for code, entry in limits.items():
        where = f"prepare.limits.{code}"
        if code not in CENSORABLE:
            what = f"{code} results are never censored" if code in PARAMETERS else "unknown PARAMCD"
            raise SpecError(
                f"{where}: {what}. Fix: give limits only for {', '.join(CENSORABLE)}, in their "
                "canonical units."
            )
        if not isinstance(entry, Mapping) or not set(entry) <= {"lloq", "uloq"}:
            raise SpecError(
                f"{where}: {entry!r} is not a mapping of lloq and uloq. Fix: write it like "
                f"{code}: {{lloq: 1.5, uloq: 5000}} (in {PARAMETERS[code].unit})."
            )
        for key, value in entry.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not np.isfinite(value) or value <= 0:
                raise SpecError(
                    f"{where}.{key}: {value!r} is not a positive number. Fix: give the assay "
                    f"limit in {PARAMETERS[code].unit}."
                )
        if entry.get("lloq", -np.inf) >= entry.get("uloq", np.inf):
            raise SpecError(
                f"{where}: lloq {entry['lloq']:g} is not below uloq {entry['uloq']:g}. Fix: swap "
                f"or correct them (both in {PARAMETERS[code].unit}, the canonical unit)."
            )


def _crossed_limits(row: pd.Series, file: str, lloq: float, uloq: float) -> DataError:
    """Build the error for a row whose lower limit is not below its upper one."""
    unit = PARAMETERS[row["PARAMCD"]].unit
    if pd.notna(row["LLOQ"]) and pd.notna(row["ULOQ"]):
        return DataError(
            file,
            f"LLOQ {lloq:g} is not below ULOQ {uloq:g} (both from this row, in {unit}).",
            row=int(row[ROW]),
            column="LLOQ",
            fix="swap or correct the row's LLOQ and ULOQ.",
        )
    column, other = ("LLOQ", "uloq") if pd.notna(row["LLOQ"]) else ("ULOQ", "lloq")
    setting = f"prepare.limits.{row['PARAMCD']}.{other}"
    origin = {column: "from this row", other.upper(): f"from the config ({setting})"}
    return DataError(
        file,
        f"LLOQ {lloq:g} {origin['LLOQ']} is not below ULOQ {uloq:g} {origin['ULOQ']}, both in "
        f"{unit}.",
        row=int(row[ROW]),
        column=column,
        fix=f"correct the row's {column}, or {setting} in the config.",
    )


def _das28_from_components(meas: pd.DataFrame) -> pd.DataFrame:
    """DAS28 scores wherever all four components are present, with their censoring and bounds.

    DAS28 increases with every component, so with components below their limits (and none
    above) the score at the limits is an upper bound (``CENS`` -1), with components above
    their limits a lower bound (+1); ``LOW`` and ``HIGH`` are the score with each censored
    component at its end of the plausible range (:data:`~il6fit.data.contract.PARAMETERS`).
    A visit with components censored on both sides gets no score (logged).
    """
    columns = [*_SCORE_COLUMNS, "LOW", "HIGH"]
    none = pd.DataFrame(columns=columns).astype(
        {"AVISITN": float, "AVAL": float, "CENS": int, "LOW": float, "HIGH": float}
    )
    needed = {c for score in DAS28_FORMULAS for c in _components(score)}
    meas = meas.loc[meas["PARAMCD"].isin(needed), ["USUBJID", "AVISITN", "PARAMCD", "AVAL", "CENS"]]
    if meas.empty:
        return none
    # one result per subject, visit and component here; groupby + unstack is pivot_table's
    # result at a fraction of its cost on a million rows
    wide = (
        meas.groupby(["USUBJID", "AVISITN", "PARAMCD"], sort=True)[["AVAL", "CENS"]]
        .first()
        .unstack("PARAMCD")
    )
    all_values, all_cens = wide["AVAL"], wide["CENS"]
    derived = []
    for score, (_, formula) in DAS28_FORMULAS.items():
        parts = _components(score)
        if not set(parts) <= set(all_values.columns):
            continue
        values = all_values[parts].dropna()
        cens = all_cens[parts].loc[values.index].astype(int)
        below, above = (cens < 0).any(axis=1), (cens > 0).any(axis=1)
        if (below & above).any():
            log.warning(
                "%s not derived at %d visit(s): its components lie beyond limits on both sides",
                score,
                int((below & above).sum()),
            )
        keep = ~(below & above)
        values, cens, below, above = values[keep], cens[keep], below[keep], above[keep]
        if values.empty:
            continue
        ends = {
            side: [values[c].where(cens[c] != flag, getattr(PARAMETERS[c], side)) for c in parts]
            for side, flag in (("lower", -1), ("upper", 1))
        }
        with np.errstate(divide="ignore"):  # ln(ESR 0 mm/h): no lower bound
            low, high = formula(*ends["lower"]), formula(*ends["upper"])
        derived.append(
            pd.DataFrame(
                {
                    "USUBJID": values.index.get_level_values("USUBJID"),
                    "PARAMCD": score,
                    "AVISITN": values.index.get_level_values("AVISITN"),
                    "AVAL": formula(*(values[c] for c in parts)),
                    "CENS": above.astype(int).to_numpy() - below.astype(int).to_numpy(),
                    "LOW": low,
                    "HIGH": high,
                }
            )
        )
    if not derived:
        return none
    return pd.concat(derived, ignore_index=True)[columns]


def _derive_das28(meas: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Derive DAS28 scores where all components are present; report superseded rows."""
    scores = _das28_from_components(meas)
    if scores.empty:
        return pd.DataFrame(columns=list(PREPARED_COLUMNS)), pd.Series(dtype=str)
    derived = scores.assign(AVALU="score", SOURCE="derived", ROW=0)[list(PREPARED_COLUMNS)]
    supplied = meas[meas["PARAMCD"].isin(DAS28_FORMULAS)].merge(
        scores[[*_KEY, "AVAL", "CENS", "LOW", "HIGH"]], on=_KEY, suffixes=("", "_derived")
    )
    # one note per supplied score: few rows, so a plain loop reads best
    notes = [
        _supplied_score_note(code, given, computed, cens, low, high)
        for code, given, computed, cens, low, high in zip(
            *(supplied[c] for c in ("PARAMCD", "AVAL", "AVAL_derived", "CENS_derived")),
            supplied["LOW"],
            supplied["HIGH"],
            strict=True,
        )
    ]
    return derived, pd.Series(notes, index=supplied[ROW].to_numpy(), dtype=str)


def _supplied_score_note(
    code: str, given: float, computed: float, cens: int, low: float, high: float
) -> str:
    """Ledger reason of a supplied score superseded by the one derived from its components."""
    if cens == 0:
        if abs(given - computed) <= _DAS28_TOLERANCE:
            return f"supplied score superseded: {code} derived from its components agrees"
        return (
            f"supplied score disagrees: {code} {given:.2f} given, {computed:.2f} derived from its "
            "components (the derived score is used)"
        )
    interval = f"between {low:.2f} and {high:.2f} (a component beyond its assay limit)"
    if low - _DAS28_TOLERANCE <= given <= high + _DAS28_TOLERANCE:
        return (
            f"supplied score superseded: {code} derived from its components lies {interval}, "
            f"as does the {given:.2f} given (the derived, censored score is used)"
        )
    return (
        f"supplied score disagrees: {code} {given:.2f} given, derived from its components it "
        f"lies {interval} (the derived, censored score is used)"
    )


def _supplied_responses(meas: pd.DataFrame, derived: pd.DataFrame, file: str) -> pd.Series:
    """Ledger reasons of supplied EULAR rows that DAS28 at week 0 and their visit supersede.

    A supplied category is compared with the one each DAS28 score gives at week 0 and the
    row's visit, where the scores' bounds decide it; a row no score decides is kept.

    Raises
    ------
    DataError
        For a response (EULAR, ACR) at week 0: it is assessed against week 0.
    """
    responses = meas[meas["PARAMCD"].isin(CATEGORICAL)]
    at_baseline = responses["AVISITN"] == 0
    if at_baseline.any():
        row = responses[at_baseline].iloc[0]
        raise DataError(
            file,
            f"{row['PARAMCD']} at week 0: a response is assessed against week 0 (baseline), so "
            "it cannot be at week 0.",
            row=int(row[ROW]),
            column="AVISITN",
            fix="give the visit the response was assessed at (AVISITN, e.g. the landmark "
            "week), or remove the row.",
        )
    supplied = responses[responses["PARAMCD"] == "EULAR"]
    scores = score_intervals(pd.concat([meas[_SCORE_COLUMNS], derived[_SCORE_COLUMNS]]))
    if supplied.empty or scores.empty:
        return pd.Series(dtype=str)
    bounds = scores[["USUBJID", "PARAMCD", "AVISITN", "LOW", "HIGH"]]
    pairs = (
        supplied[["USUBJID", "AVISITN", "AVAL", ROW]]
        .rename(columns={"AVAL": "given"})
        .merge(bounds[bounds["AVISITN"] == 0].drop(columns="AVISITN"), on="USUBJID")
        .merge(bounds, on=["USUBJID", "PARAMCD", "AVISITN"], suffixes=("_base", ""))
    )
    pairs["derived"] = eular_response_bounded(
        *(pairs[c] for c in ("LOW_base", "HIGH_base", "LOW", "HIGH"))
    )
    pairs = pairs[pairs["derived"] != ""]
    names = {n: c for c, n in PARAMETERS["EULAR"].categories.items()}
    notes = {}
    for row, group in pairs.sort_values("PARAMCD").groupby(ROW):
        given, week = names[int(group["given"].iloc[0])], group["AVISITN"].iloc[0]
        if (group["derived"] == given).all():
            notes[row] = (
                f"supplied response superseded: EULAR derived from {' and '.join(group['PARAMCD'])}"
                f" at weeks 0 and {week:g} agrees"
            )
        else:
            derived_from = ", ".join(
                f"'{c}' from {s}" for s, c in zip(group["PARAMCD"], group["derived"], strict=True)
            )
            notes[row] = (
                f"supplied response disagrees: EULAR '{given}' given, {derived_from} at weeks 0 "
                f"and {week:g} (the derived response is used)"
            )
    return pd.Series(notes, dtype=str)
