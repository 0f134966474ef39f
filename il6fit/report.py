"""The self-contained HTML report: data, models, diagnostics verdicts, estimates, provenance.

Nothing here identifies a subject: tables are aggregated or per parameter, never per row.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import yaml

from il6fit.diagnostics import PARETO_K_CHECK, failed_checks, loo_warning
from il6fit.history import changes_since, record
from il6fit.plots import COMPARISON_CAPTION


@dataclass(frozen=True)
class DatasetSection:
    """What the report shows about one prepared dataset."""

    name: str
    source: str
    subjects: int
    ledger: pd.DataFrame
    measurements: pd.DataFrame
    #: Subjects lacking each covariate column (AGE, SEX, BMI) the table has; absent ones left out.
    missing_covariates: Mapping[str, int] = field(default_factory=dict)


def missing_covariates(subjects: pd.DataFrame) -> dict[str, int]:
    """Subjects lacking each covariate (AGE, SEX, BMI), for columns with some value given.

    Parameters
    ----------
    subjects : pandas.DataFrame
        A prepared subjects table (:func:`il6fit.data.read_prepared`).

    Returns
    -------
    dict of str to int
        Column -> subjects without a value, for columns missing for some but not all.

    Examples
    --------
    >>> missing_covariates(pd.DataFrame({"AGE": [50, None], "SEX": ["", ""], "BMI": [27, 30]}))
    {'AGE': 1}
    """
    out = {}
    for column in ("AGE", "SEX", "BMI"):
        if column in subjects:
            empty = subjects[column].isna() | (subjects[column].astype(str) == "")
            if 0 < int(empty.sum()) < len(subjects):
                out[column] = int(empty.sum())
    return out


@dataclass(frozen=True)
class FitSection:
    """What the report shows about one fit."""

    model: str
    dataset: str
    title: str
    equations: str
    priors: Mapping[str, str]
    summary: pd.DataFrame
    checks: pd.DataFrame
    metadata: Mapping
    rows_used: int
    figures: Mapping[str, bytes] = field(default_factory=dict)
    captions: Mapping[str, str] = field(default_factory=dict)
    estimands: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    #: for a model with a landmark week: the completers' observed mean change per arm
    #: (:func:`il6fit.models.landmark.completer_change`)
    observed_change: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        """``<model> on <dataset>``, as messages and tables name a fit."""
        return f"{self.model} on {self.dataset}"

    @property
    def passed(self) -> bool:
        """Whether the fit passed the gate (every sampler check; LOO reliability is apart)."""
        return not failed_checks(self.checks)

    @property
    def loo_warning(self) -> str:
        """Why the fit's leave-one-out estimate is unreliable, or ``""``."""
        return loo_warning(self.checks)


@dataclass(frozen=True)
class ComparisonSection:
    """A PSIS-LOO comparison of fits to one dataset."""

    name: str
    dataset: str
    table: pd.DataFrame
    figure: bytes | None = None


@dataclass(frozen=True)
class CalibrationSection:
    """Results of a calibration run (simulation-based calibration), shown when present."""

    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    figures: Mapping[str, bytes] = field(default_factory=dict)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.text, th.text { text-align: left; }
.pass { color: #176f2c; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
.warn { color: #8a5a00; font-weight: bold; }
.failed-fit { border: 2px solid #b00020; padding: 0 1em; }
.note { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
"""


def build_report(
    *,
    title: str,
    datasets: Sequence[DatasetSection],
    fits: Sequence[FitSection],
    config: Mapping,
    versions: Mapping[str, str],
    comparisons: Sequence[ComparisonSection] = (),
    calibration: CalibrationSection | None = None,
    previous: Mapping | None = None,
) -> str:
    """Assemble the report as one HTML document with images embedded.

    Parameters
    ----------
    title : str
        Report title.
    datasets : sequence of DatasetSection
        One per dataset.
    fits : sequence of FitSection
        One per model x dataset.
    config : mapping
        The run config, shown in the provenance section.
    versions : mapping of str to str
        Package versions.
    comparisons : sequence of ComparisonSection
        PSIS-LOO comparisons.
    calibration : CalibrationSection, optional
        Calibration results; the section is left out without them.
    previous : mapping, optional
        The :func:`il6fit.history.record` of the previous run; with it, the report says what
        changed since.

    Returns
    -------
    str
        The HTML document.
    """
    failing = [f for f in fits if not f.passed]
    loo_unreliable = [f for f in fits if f.passed and f.loo_warning]
    verdict = (
        '<p class="pass">Every fit passed the diagnostics gate.</p>'
        if not failing
        else '<p class="fail">Fits that FAILED the diagnostics gate (estimates not reliable): '
        + ", ".join(html.escape(f.name) for f in failing)
        + "</p>"
    ) + (
        '<p class="warn">Leave-one-patient-out (PSIS-LOO) is unreliable for some patients of '
        + ", ".join(html.escape(f.name) for f in loo_unreliable)
        + ": their posteriors are sound, but treat LOO comparisons with them with caution.</p>"
        if loo_unreliable
        else ""
    )
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        verdict,
        _landmark_html(fits),
        _convergence_overview(fits),
        "<h2>Data</h2>",
        *(_dataset_html(d) for d in datasets),
        *(_fit_html(f) for f in fits),
        _comparisons_html(comparisons, failing),
        _sensitivity_html(fits),
        _calibration_html(calibration),
        _changes_html(previous, record(fits=fits, config=config, versions=versions)),
        _provenance_html(fits, config, versions),
        _figure_list_html(fits, comparisons),
        "</body></html>",
    ]
    return "\n".join(parts)


def _table(frame: pd.DataFrame, *, text_columns: Sequence[str] = (), digits: int = 3) -> str:
    def cell(column, value):
        cls = ' class="text"' if column in text_columns else ""
        if isinstance(value, bool):
            text = '<span class="pass">pass</span>' if value else '<span class="fail">FAIL</span>'
            return f"<td{cls}>{text}</td>"
        if isinstance(value, float) and value != value:  # NaN: not applicable
            text = "–"
        elif isinstance(value, float):
            text = f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.0f}"
        else:
            text = html.escape(str(value))
        return f"<td{cls}>{text}</td>"

    head = "".join(
        f"<th{' class=text' if c in text_columns else ''}>{html.escape(str(c))}</th>"
        for c in frame.columns
    )
    body = "".join(
        "<tr>" + "".join(cell(c, v) for c, v in zip(frame.columns, row, strict=True)) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def landmark_table(fits: Sequence[FitSection]) -> pd.DataFrame:
    """Tabulate one dataset's landmark estimands side by side, beside the observed change.

    Parameters
    ----------
    fits : sequence of FitSection
        Fits to one dataset with a landmark (``observed_change`` and estimands set), the
        primary analysis first; the observed change is the first fit's.

    Returns
    -------
    pandas.DataFrame
        One row per arm (``mean change``) and per active arm (``effect vs <control>``):
        ``estimand``, ``arm``, ``completers``, ``observed (mean ± SE)`` (the difference of
        observed means for an effect), then one column per fit with its posterior mean and
        credible interval.
    """
    observed = fits[0].observed_change.set_index("arm")
    arms = list(observed.index)
    control = arms[0]
    rows = []
    for arm in arms:
        o = observed.loc[arm]
        rows.append(
            {
                "estimand": "mean change",
                "arm": arm,
                "key": f"change[{arm}]",
                "completers": int(o["completers"]),
                "observed (mean ± SE)": f"{o['observed']:.2f} ± {o['se']:.2f}",
            }
        )
    for arm in arms[1:]:
        o, c = observed.loc[arm], observed.loc[control]
        gap, se = o["observed"] - c["observed"], float(np.hypot(o["se"], c["se"]))
        rows.append(
            {
                "estimand": f"effect vs {control}",
                "arm": arm,
                "key": f"effect[{arm}]",
                "completers": int(o["completers"] + c["completers"]),
                "observed (mean ± SE)": f"{gap:.2f} ± {se:.2f}",
            }
        )
    table = pd.DataFrame(rows)
    for f in fits:
        estimates = f.estimands.set_index("parameter")
        verdict = "passed" if f.passed else "FAILED"
        table[f"{f.model} ({verdict})"] = [
            f"{estimates.loc[k, 'mean']:.2f} ({estimates.loc[k, 'ci_lower']:.2f} to "
            f"{estimates.loc[k, 'ci_upper']:.2f})"
            if k in estimates.index
            else "-"
            for k in table["key"]
        ]
    return table.drop(columns="key")


def _landmark_html(fits: Sequence[FitSection]) -> str:
    with_landmark = [f for f in fits if f.observed_change is not None and f.estimands is not None]
    if not with_landmark:
        return ""
    parts = ["<h2>Treatment effects at the landmark week</h2>"]
    for dataset in dict.fromkeys(f.dataset for f in with_landmark):
        group = [f for f in with_landmark if f.dataset == dataset]
        options = group[0].metadata.get("options", {}).get("options", {})
        interval = f"{group[0].estimands['ci_prob'].iloc[0]:.0%}"
        score = options.get("score", "score")
        week = options.get("landmark_week", "")
        table = landmark_table(group)
        parts.append(
            f"<h3>{html.escape(dataset)}: change in {html.escape(str(score))} from baseline to "
            f"week {week:g} (score units)</h3>"
            f"<p>Primary analysis: <b>{html.escape(group[0].model)}</b>. Model columns: "
            f"posterior mean ({interval} credible interval), standardised over the analysed "
            "patients; observed: the plain mean change among completers (a score at baseline "
            "and at the landmark), model-free and unadjusted; an effect's observed value is the "
            "difference of two arms' means.</p>" + _table(table, text_columns=tuple(table.columns))
        )
    return "".join(parts)


def _convergence_overview(fits: Sequence[FitSection]) -> str:
    rows = []
    for f in fits:
        checks = f.checks.set_index("check")["value"]
        rows.append(
            {
                "model": f.model,
                "dataset": f.dataset,
                "verdict": f.passed,
                "max R-hat": float(checks["max R-hat"]),
                "min bulk ESS (draws)": float(checks["min bulk ESS"]),
                "min tail ESS (draws)": float(checks["min tail ESS"]),
                "divergences (count)": float(checks["divergences"]),
                "min E-BFMI": float(checks["min E-BFMI"]),
                "LOO reliable": not f.loo_warning,
                "max Pareto k (per patient)": float(checks.get(PARETO_K_CHECK, np.nan)),
                "attempts (fits)": len(f.metadata.get("attempts", [])) or 1,
            }
        )
    return "<h2>Convergence</h2>" + _table(pd.DataFrame(rows), text_columns=("model", "dataset"))


def _dataset_html(d: DatasetSection) -> str:
    ledger = d.ledger
    # reasons read "<kind>: <details>" (row numbers, days); the report counts them by kind
    kind = ledger["reason"].fillna("").str.split(": ", n=1).str[0]
    counts = (
        ledger.assign(reason=kind.replace("", "-"))
        .groupby(["table", "status", "reason"], dropna=False)
        .size()
        .rename("rows")
        .reset_index()
    )
    m = d.measurements
    per_param = (
        m.groupby("PARAMCD")
        .agg(
            unit=("AVALU", "first"),
            results=("AVAL", "size"),
            below_LLOQ=("CENS", lambda c: int((c == -1).sum())),
            above_ULOQ=("CENS", lambda c: int((c == 1).sum())),
            median=("AVAL", "median"),
            derived=("SOURCE", lambda s: int((s == "derived").sum())),
        )
        .reset_index()
    )
    return (
        f"<h3>Dataset {html.escape(d.name)}</h3><p>Source: {html.escape(d.source)}. "
        f"{d.subjects} subjects, {len(ledger)} input rows, every one accounted for below.</p>"
        + (
            "<p>Covariates missing for some subjects: "
            + ", ".join(f"{c} {n} of {d.subjects}" for c, n in d.missing_covariates.items())
            + " (modelled by the models using them; <code>prepare.missing: drop</code> "
            "leaves such subjects out).</p>"
            if d.missing_covariates
            else ""
        )
        + "<h4>Ledger (input rows by status and reason)</h4>"
        + _table(counts, text_columns=("table", "status", "reason"))
        + "<h4>Prepared results by parameter (canonical units)</h4>"
        + _table(per_param, text_columns=("PARAMCD", "unit"))
    )


def _fit_html(f: FitSection) -> str:
    failures = failed_checks(f.checks)
    wrap_open = '<div class="failed-fit">' if failures else "<div>"
    status = (
        '<p class="pass">Diagnostics gate: passed.</p>'
        if not failures
        else '<p class="fail">Diagnostics gate: FAILED — '
        + html.escape("; ".join(failures))
        + ". Estimates below are shown for inspection only.</p>"
    ) + (
        '<p class="warn">'
        + html.escape(f.loo_warning)
        + ": some patients are so influential that their leave-one-out estimate is unreliable "
        "(the model may not describe them well); treat LOO comparisons with this fit with "
        "caution. This is not a verdict on the posterior.</p>"
        if f.loo_warning
        else ""
    )
    priors = pd.DataFrame({"parameter": list(f.priors), "prior": list(f.priors.values())})
    summary = f.summary.copy()
    kind, prob = summary["ci_kind"].iloc[0], summary["ci_prob"].iloc[0]
    interval = f"{prob:.0%} {kind.upper()}"
    summary = summary.rename(
        columns={"ci_lower": f"{interval} lower", "ci_upper": f"{interval} upper"}
    ).drop(columns=["ci_kind", "ci_prob", "description"])
    figures = "".join(
        f"<h4>{html.escape(name)}: {html.escape(f.captions.get(name, name))}</h4>" + _img(name, png)
        for name, png in f.figures.items()
    )
    sampler = f.metadata.get("sampler", {})
    return (
        f"<h2>{html.escape(f.model)} on {html.escape(f.dataset)}</h2>{wrap_open}"
        f"<p>{html.escape(f.title)}. {f.rows_used} rows used. Sampler: "
        f"{html.escape(str(sampler.get('backend', '')))}, {sampler.get('chains', '')} chains x "
        f"{sampler.get('draws', '')} draws after {sampler.get('tune', '')} tuning steps; "
        f"seed {f.metadata.get('seed', '')}.</p>{status}"
        "<h4>Model</h4><pre>" + html.escape(f.equations.strip()) + "</pre>"
        "<h4>Priors</h4>"
        + _table(priors, text_columns=("parameter", "prior"))
        + "<h4>Checks</h4>"
        + _table(
            _checks_shown(f.checks), text_columns=("check", "rule", "part of", "worst"), digits=4
        )
        + _attempts_html(f)
        + f"<h4>Estimates (posterior mean, sd, {interval} credible interval)</h4>"
        + _table(summary, text_columns=("parameter", "unit"))
        + _estimands_html(f.estimands, interval)
        + figures
        + "</div>"
    )


def _checks_shown(checks: pd.DataFrame) -> pd.DataFrame:
    """Say in words whether each check makes the verdict (not as a pass/FAIL cell)."""
    if "gates" not in checks:
        return checks
    part = checks["gates"].map({True: "verdict", False: "reported beside"})
    return checks.drop(columns="gates").assign(**{"part of": part})


def _attempts_html(f: FitSection) -> str:
    attempts = f.metadata.get("attempts", [])
    if not attempts:
        return ""
    table = pd.DataFrame(
        {
            "attempt": [a["attempt"] for a in attempts],
            "tuning steps (per chain)": [float(a["tune"]) for a in attempts],
            "draws (per chain)": [float(a["draws"]) for a in attempts],
            "target acceptance": [float(a["target_accept"]) for a in attempts],
            "sampler checks": [bool(a["passed"]) for a in attempts],
            "why refitted / failures": ["; ".join(a["failures"]) or "-" for a in attempts],
        }
    )
    last = attempts[-1]
    outcome = (
        f"passed at attempt {last['attempt']}"
        if last["passed"]
        else f"still failing after {last['attempt']} attempts: marked FAILED"
    )
    return (
        "<h4>Escalation (policy <code>escalate</code>)</h4>"
        f"<p>Refitted with more tuning and a higher target acceptance; {outcome}. The "
        "estimates are those of the last attempt.</p>"
        + _table(table, text_columns=("why refitted / failures",), digits=4)
    )


def _estimands_html(estimands: pd.DataFrame | None, interval: str) -> str:
    if estimands is None:
        return ""
    table = estimands[["parameter", "mean", "ci_lower", "ci_upper", "unit", "description"]]
    table = table.rename(
        columns={
            "parameter": "estimand",
            "mean": "posterior mean",
            "ci_lower": f"{interval} lower",
            "ci_upper": f"{interval} upper",
        }
    )
    return f"<h4>Clinical estimands (posterior mean, {interval} credible interval)</h4>" + _table(
        table, text_columns=("estimand", "unit", "description")
    )


def _img(name: str, png: bytes) -> str:
    return (
        f"<img alt='{html.escape(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
    )


def _comparisons_html(
    comparisons: Sequence[ComparisonSection], failing: Sequence[FitSection]
) -> str:
    if not comparisons:
        return ""
    failed = {(f.model, f.dataset) for f in failing}
    parts = [
        "<h2>Model comparison (PSIS-LOO)</h2><p>Expected log pointwise predictive density "
        "(ELPD, nats; higher predicts held-out observations better), its difference from the "
        "best model with the standard error of the difference, and stacking weights. A "
        "difference smaller than about twice its standard error does not separate the models. "
        "The unit left out is the patient (all of their visits and outcomes). Pareto k above "
        "the limit marks patients whose LOO estimate is unreliable; the comparison then says "
        "so (column <em>elpd reliable</em>); <em>loo method</em> says how the estimate was "
        "made: PSIS, with moment matching or exact refits where PSIS alone was unreliable.</p>"
    ]
    for c in comparisons:
        table = c.table.copy()
        bad = [m for m in table["model"] if (m, c.dataset) in failed]
        table["fit verdict"] = [
            "FAILED" if (m, c.dataset) in failed else "passed" for m in table["model"]
        ]
        note = (
            '<p class="fail">Fits that FAILED the diagnostics gate take part: '
            + html.escape(", ".join(bad))
            + ". Their ELPD is not reliable.</p>"
            if bad
            else ""
        )
        parts.append(
            f"<h3>{html.escape(c.name)} (dataset {html.escape(c.dataset)}, "
            f"{int(c.table['n_observations'].iloc[0])} patients left out one at a time)</h3>"
            + note
            + _table(table, text_columns=("model", "fit verdict", "loo_method"), digits=4)
            + (_img(f"comparison {c.name}", c.figure) if c.figure else "")
        )
    return "".join(parts)


def _sensitivity_html(fits: Sequence[FitSection]) -> str:
    with_tables = [f for f in fits if f.sensitivity is not None]
    if not with_tables:
        return ""
    parts = [
        "<h2>Prior sensitivity (power-scaling)</h2><p>How much each posterior changes when "
        "the prior, or the likelihood, is raised to a power near 1 (cumulative Jensen-Shannon "
        "distance per unit log power; Kallioinen et al. 2024). Flagged: prior sensitivity above "
        "the threshold with weak likelihood sensitivity (the prior dominates), or both above it "
        "(prior-data conflict). Only the priors set in the config are scaled.</p>"
    ]
    for f in with_tables:
        flagged = f.sensitivity.loc[f.sensitivity["flagged"], "parameter"].tolist()
        verdict = (
            '<p class="fail">Flagged: ' + html.escape(", ".join(flagged)) + "</p>"
            if flagged
            else '<p class="pass">No parameter flagged.</p>'
        )
        table = f.sensitivity.rename(
            columns={"prior": "prior sensitivity", "likelihood": "likelihood sensitivity"}
        ).assign(flagged=f.sensitivity["flagged"].map({True: "FLAGGED", False: "-"}))
        parts.append(
            f"<h3>{html.escape(f.name)}</h3>"
            + verdict
            + _table(table, text_columns=("parameter", "diagnosis", "flagged", "unit"), digits=3)
        )
    return "".join(parts)


def _calibration_html(calibration: CalibrationSection | None) -> str:
    if calibration is None or not (calibration.tables or calibration.figures):
        return ""
    return (
        "<h2>Calibration</h2><p>Results of the calibration run (results/calibration/).</p>"
        + "".join(
            f"<h4>{html.escape(name)}</h4>" + _table(table, text_columns=_text_columns(table))
            for name, table in calibration.tables.items()
        )
        + "".join(
            f"<h4>{html.escape(name)}</h4>" + _img(name, png)
            for name, png in calibration.figures.items()
        )
    )


def _text_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    return tuple(c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]))


def _changes_html(previous: Mapping | None, current: Mapping) -> str:
    head = "<h2>Changes since the previous run</h2>"
    if previous is None:
        return head + '<p class="note">No previous run recorded: this is the first report.</p>'
    changes = changes_since(previous, current)
    inputs = changes.inputs.assign(
        before=changes.inputs["before"].str[:12], now=changes.inputs["now"].str[:12]
    )
    config, versions, verdicts = changes.config, changes.versions, changes.verdicts
    new_fits, gone, shifts = changes.new_fits, changes.gone, changes.shifts
    moved = shifts[shifts["change in sd before"].abs() > 0]
    parts = [head]
    for title, table, cols in (
        ("Inputs (SHA-256, first 12 hex digits)", inputs, ("fit", "input", "before", "now")),
        ("Config", config, ("config key", "before", "now")),
        ("Package versions", versions, ("package", "before", "now")),
        ("Diagnostics verdicts", verdicts, ("fit", "before", "now")),
    ):
        parts.append(f"<h4>{title}</h4>")
        parts.append(
            _table(table, text_columns=cols) if len(table) else '<p class="note">unchanged</p>'
        )
    if new_fits or gone:
        parts.append(
            "<p>New fits: " + html.escape(", ".join(new_fits) or "none") + ". Fits no longer "
            "made: " + html.escape(", ".join(gone) or "none") + ".</p>"
        )
    parts.append(
        "<h4>Key estimates (posterior means; largest moves first, in previous posterior sds)</h4>"
    )
    if moved.empty:
        parts.append('<p class="note">No estimate moved.</p>')
    else:
        parts.append(
            f"<p>{len(moved)} of {len(shifts)} estimates moved; "
            f"{int((moved['change in sd before'].abs() > 1).sum())} by more than one previous "
            "posterior sd.</p>"
            + _table(moved.head(25), text_columns=("fit", "parameter", "unit"), digits=3)
        )
    return "".join(parts)


def _figure_list_html(fits: Sequence[FitSection], comparisons: Sequence[ComparisonSection]) -> str:
    items = [
        f"<li>{html.escape(f.name)}: <b>{html.escape(name)}</b> - "
        f"{html.escape(f.captions.get(name, name))}</li>"
        for f in fits
        for name in f.figures
    ] + [
        f"<li>comparison {html.escape(c.name)}: <b>comparison</b> - "
        f"{html.escape(COMPARISON_CAPTION)}</li>"
        for c in comparisons
        if c.figure
    ]
    return (
        "<h2>Figures in this report</h2><p>Each also saved as PNG and SVG under "
        "results/figures/ (comparisons under results/comparisons/).</p><ul>"
        + "".join(items)
        + "</ul>"
    )


def _provenance_html(
    fits: Sequence[FitSection], config: Mapping, versions: Mapping[str, str]
) -> str:
    seeds = pd.DataFrame(
        [{"model": f.model, "dataset": f.dataset, "seed": f.metadata.get("seed")} for f in fits]
    )
    hashes = pd.DataFrame(
        [
            {"fit": f"{f.model} / {f.dataset}", "input": path, "sha256": digest}
            for f in fits
            for path, digest in f.metadata.get("input_hashes", {}).items()
        ]
    )
    version_table = pd.DataFrame({"package": list(versions), "version": list(versions.values())})
    return (
        "<h2>Provenance</h2><h4>Package versions</h4>"
        + _table(version_table, text_columns=("package", "version"))
        + "<h4>Seeds</h4>"
        + _table(seeds, text_columns=("model", "dataset"))
        + "<h4>Input hashes (SHA-256)</h4>"
        + (_table(hashes, text_columns=("fit", "input", "sha256")) if len(hashes) else "")
        + "<h4>Configuration</h4><pre>"
        + html.escape(yaml.safe_dump(dict(config), sort_keys=False))
        + "</pre>"
    )
