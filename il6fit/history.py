"""The run record and history: what a report rests on, and what changed since the last run.

:func:`record` is the machine-readable record of a run (``results/report.json``); the next run
compares itself with it through :func:`changes_since` and :func:`estimate_shifts`. Nothing here
renders HTML: :mod:`il6fit.report` shows the comparison.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def record(*, fits: Sequence, config: Mapping, versions: Mapping[str, str]) -> dict:
    """Record what a report rests on, for the next run's report to compare itself with.

    Parameters
    ----------
    fits : sequence of il6fit.report.FitSection
        The fits reported.
    config : mapping
        The run config.
    versions : mapping of str to str
        Package versions.

    Returns
    -------
    dict
        JSON-serialisable: ``config``, ``versions``, ``inputs`` (fit name -> input file ->
        SHA-256), ``verdicts`` (fit name -> passed) and ``estimates`` (fit name -> parameter or
        estimand -> ``mean``, ``sd``, ``ci_lower``, ``ci_upper``, ``unit``).
    """

    def number(value):
        return None if value is None or value != value else float(value)

    estimates = {}
    for f in fits:
        rows = pd.concat([f.summary, f.estimands]) if f.estimands is not None else f.summary
        estimates[f.name] = {
            r.parameter: {
                "mean": number(r.mean),
                "sd": number(r.sd),
                "ci_lower": number(r.ci_lower),
                "ci_upper": number(r.ci_upper),
                "unit": r.unit,
            }
            for r in rows.itertuples()
        }
    return json.loads(
        json.dumps(
            {
                "config": dict(config),
                "versions": dict(versions),
                "inputs": {f.name: dict(f.metadata.get("input_hashes", {})) for f in fits},
                "verdicts": {f.name: f.passed for f in fits},
                "estimates": estimates,
            },
            default=str,
        )
    )


def _flatten(value, prefix: str = "") -> dict[str, str]:
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: json.dumps(value)}


def _differences(before: Mapping, after: Mapping, what: str) -> pd.DataFrame:
    old, new = _flatten(before), _flatten(after)
    rows = [
        {what: key, "before": old.get(key, "(absent)"), "now": new.get(key, "(absent)")}
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]
    return pd.DataFrame(rows, columns=[what, "before", "now"])


def estimate_shifts(previous: Mapping, current: Mapping) -> pd.DataFrame:
    """How the estimates of fits in both runs moved, largest moves first.

    Parameters
    ----------
    previous, current : mapping
        Two :func:`record` results.

    Returns
    -------
    pandas.DataFrame
        Columns ``fit``, ``parameter``, ``unit``, ``mean before``, ``mean now``, ``change``
        and ``change in sd before`` (the change over the previous posterior sd).
    """
    rows = []
    for fit, estimates in current["estimates"].items():
        before = previous.get("estimates", {}).get(fit, {})
        for parameter, now in estimates.items():
            if parameter not in before or now["mean"] is None or before[parameter]["mean"] is None:
                continue
            old = before[parameter]
            change = now["mean"] - old["mean"]
            sd = old["sd"]
            rows.append(
                {
                    "fit": fit,
                    "parameter": parameter,
                    "unit": now["unit"],
                    "mean before": old["mean"],
                    "mean now": now["mean"],
                    "change": change,
                    "change in sd before": change / sd if sd else np.nan,
                }
            )
    table = pd.DataFrame(
        rows,
        columns=["fit", "parameter", "unit", "mean before", "mean now", "change",
                 "change in sd before"],
    )  # fmt: skip
    order = table["change in sd before"].abs().fillna(0).sort_values(ascending=False).index
    return table.loc[order].reset_index(drop=True)


@dataclass(frozen=True)
class Changes:
    """What changed between two runs' records (:func:`changes_since`).

    Attributes
    ----------
    inputs : pandas.DataFrame
        Changed input files: ``fit``, ``input``, ``before``, ``now`` (SHA-256, or
        ``(absent)``).
    config : pandas.DataFrame
        Changed config keys (dotted): ``config key``, ``before``, ``now`` (JSON).
    versions : pandas.DataFrame
        Changed package versions: ``package``, ``before``, ``now``.
    verdicts : pandas.DataFrame
        Fits in both runs whose diagnostics verdict changed: ``fit``, ``before``, ``now``
        (``passed`` or ``FAILED``).
    new_fits, gone : list of str
        Fits made only now, and only before.
    shifts : pandas.DataFrame
        :func:`estimate_shifts`.
    """

    inputs: pd.DataFrame
    config: pd.DataFrame
    versions: pd.DataFrame
    verdicts: pd.DataFrame
    new_fits: list[str]
    gone: list[str]
    shifts: pd.DataFrame


def changes_since(previous: Mapping, current: Mapping) -> Changes:
    """Compare a run with the previous one: inputs, config, versions, verdicts, estimates.

    Parameters
    ----------
    previous, current : mapping
        Two :func:`record` results.

    Returns
    -------
    Changes
    """
    inputs = pd.DataFrame(
        [
            {"fit": fit, "input": path, "before": old.get(path, "(absent)"),
             "now": new.get(path, "(absent)")}
            for fit, new in current["inputs"].items()
            for old in [previous.get("inputs", {}).get(fit, {})]
            for path in sorted(new.keys() | old.keys())
            if old.get(path) != new.get(path)
        ],
        columns=["fit", "input", "before", "now"],
    )  # fmt: skip
    config = _differences(previous.get("config", {}), current["config"], "config key")
    versions = _differences(previous.get("versions", {}), current["versions"], "package")
    verdicts = pd.DataFrame(
        [
            {"fit": fit, "before": "passed" if previous["verdicts"][fit] else "FAILED",
             "now": "passed" if passed else "FAILED"}
            for fit, passed in current["verdicts"].items()
            if fit in previous.get("verdicts", {}) and previous["verdicts"][fit] != passed
        ],
        columns=["fit", "before", "now"],
    )  # fmt: skip
    new_fits = sorted(current["verdicts"].keys() - previous.get("verdicts", {}).keys())
    gone = sorted(previous.get("verdicts", {}).keys() - current["verdicts"].keys())
    return Changes(
        inputs=inputs,
        config=config,
        versions=versions,
        verdicts=verdicts,
        new_fits=new_fits,
        gone=gone,
        shifts=estimate_shifts(previous, current),
    )
