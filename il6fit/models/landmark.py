"""The landmark week shared by the treatment families: observed change and the estimand check.

Trials report the change from baseline at a landmark week. Beside each model's standardised
estimate the report shows the plain observed mean change per arm among completers (patients
with a score at baseline and at the landmark), and the gate checks each fit against it: the
observed mean change per arm must lie in the central part of its posterior predictive
distribution (:func:`landmark_check`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from il6fit.models.family import Answer, Headline

#: Columns of a landmark check table, in order.
CHECK_COLUMNS = ("arm", "completers", "observed", "se", "predictive_lower", "predictive_upper", "p")


def completer_change(changes: pd.DataFrame, arms: list[str] | None = None) -> pd.DataFrame:
    """Observed mean change per arm among completers, with its standard error.

    Parameters
    ----------
    changes : pandas.DataFrame
        One row per completer: ``arm`` and ``change``.
    arms : list of str, optional
        Arms in report order (control first); the arms present, sorted, if None.

    Returns
    -------
    pandas.DataFrame
        ``arm``, ``completers`` (n), ``observed`` (mean change) and ``se`` (SD / sqrt(n)).

    Examples
    --------
    >>> frame = pd.DataFrame({"arm": ["A", "A", "B"], "change": [-1.0, -2.0, -3.0]})
    >>> completer_change(frame)[["arm", "completers", "observed"]].to_dict("list")
    {'arm': ['A', 'B'], 'completers': [2, 1], 'observed': [-1.5, -3.0]}
    """
    grouped = changes.groupby("arm")["change"]
    table = pd.DataFrame(
        {"completers": grouped.size(), "observed": grouped.mean(), "se": grouped.sem()}
    )
    order = sorted(table.index) if arms is None else [a for a in arms if a in table.index]
    return table.loc[order].rename_axis("arm").reset_index()


def landmark_check(
    observed: pd.DataFrame, predictive: xr.DataArray, prob: float = 0.99
) -> pd.DataFrame:
    """Compare the observed mean change per arm with its posterior predictive distribution.

    Parameters
    ----------
    observed : pandas.DataFrame
        One row per completer (``arm``, ``change``), from a family's
        :attr:`~il6fit.models.family.Landmark.observed`.
    predictive : xarray.DataArray
        Draws of the completers' mean change per arm (dims chain, draw, arm).
    prob : float
        Probability of the central predictive interval reported.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHECK_COLUMNS`: per arm the completers, observed mean and SE, the
        central ``prob`` predictive interval and ``p``, the two-sided posterior predictive
        p-value ``2 min(P(rep <= obs), P(rep >= obs))`` (below ``1 - prob`` exactly when the
        observed mean lies outside the interval).
    """
    arms = [str(a) for a in predictive["arm"].values]
    table = completer_change(observed, arms)
    draws = predictive.stack(sample=("chain", "draw")).transpose("arm", "sample").values
    by_arm = dict(zip(arms, draws, strict=True))
    tail = (1 - prob) / 2
    rows = []
    for r in table.itertuples():
        rep = by_arm[r.arm]
        below, above = np.mean(rep <= r.observed), np.mean(rep >= r.observed)
        lower, upper = np.quantile(rep, [tail, 1 - tail])
        rows.append((lower, upper, min(1.0, 2 * min(below, above))))
    table[["predictive_lower", "predictive_upper", "p"]] = rows
    return table[list(CHECK_COLUMNS)]


#: Scores as the report writes them.
SCORE_NAMES = {"DAS28ESR": "DAS28-ESR", "DAS28CRP": "DAS28-CRP", "CDAI": "CDAI", "SDAI": "SDAI"}


def _score(answer: Answer) -> str:
    return SCORE_NAMES.get(answer.options.score, answer.options.score)


def effect_sentence(answer: Answer) -> str:
    """Say a treatment effect at the landmark week in words (a fall in the score is better).

    Parameters
    ----------
    answer : Answer
        The effect of one active arm against the control arm.

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> options = SimpleNamespace(score="DAS28ESR", landmark_week=24)
    >>> effect_sentence(Answer("TCZ 8", -2.04, -2.2, -1.9, 0.9, options, "Placebo"))
    'TCZ 8 lowered DAS28-ESR by 2.04 more than Placebo at week 24 (90 % interval 1.90 to 2.20).'
    """
    verb, sign = ("lowered", -1) if answer.mean <= 0 else ("raised", 1)
    low, high = sorted((sign * answer.lower, sign * answer.upper))
    return (
        f"{answer.element} {verb} {_score(answer)} by {abs(answer.mean):.2f} more than "
        f"{answer.control} at week {answer.options.landmark_week:g} ({answer.interval} "
        f"{low:.2f} to {high:.2f})."
    )


def beyond_cid_sentence(answer: Answer) -> str:
    """Say the probability that an effect beats the clinically important difference.

    Parameters
    ----------
    answer : Answer
        ``effect_exceeds_cid`` of one active arm (its mean is the probability).

    Returns
    -------
    str
    """
    return (
        f"Probability {answer.mean:.2f} that {answer.element} lowers {_score(answer)} by more "
        f"than {answer.options.clinically_important_difference:g} beyond {answer.control} at "
        f"week {answer.options.landmark_week:g} (the clinically important difference)."
    )


#: The landmark families' first answers: each active arm's effect, and whether it is clinically
#: important.
HEADLINES = (
    Headline("effect", "treatment effect at the landmark week", effect_sentence),
    Headline(
        "effect_exceeds_cid",
        "P(effect beyond the clinically important difference)",
        beyond_cid_sentence,
    ),
)
