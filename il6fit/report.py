"""The self-contained HTML report: data, models, diagnostics verdicts, estimates, provenance.

Nothing here identifies a subject: tables are aggregated or per parameter, never per row.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import yaml

from il6fit.diagnostics import failed_checks


@dataclass(frozen=True)
class DatasetSection:
    """What the report shows about one prepared dataset."""

    name: str
    source: str
    subjects: int
    ledger: pd.DataFrame
    measurements: pd.DataFrame


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
    estimands: pd.DataFrame | None = None


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.text, th.text { text-align: left; }
.pass { color: #176f2c; font-weight: bold; } .fail { color: #b00020; font-weight: bold; }
.failed-fit { border: 2px solid #b00020; padding: 0 1em; }
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

    Returns
    -------
    str
        The HTML document.
    """
    failing = [f for f in fits if not f.checks["passed"].all()]
    verdict = (
        '<p class="pass">Every fit passed the diagnostics gate.</p>'
        if not failing
        else '<p class="fail">Fits that FAILED the diagnostics gate (estimates not reliable): '
        + ", ".join(html.escape(f"{f.model} on {f.dataset}") for f in failing)
        + "</p>"
    )
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        verdict,
        _convergence_overview(fits),
        "<h2>Data</h2>",
        *(_dataset_html(d) for d in datasets),
        *(_fit_html(f) for f in fits),
        _provenance_html(fits, config, versions),
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


def _convergence_overview(fits: Sequence[FitSection]) -> str:
    rows = []
    for f in fits:
        checks = f.checks.set_index("check")["value"]
        rows.append(
            {
                "model": f.model,
                "dataset": f.dataset,
                "verdict": bool(f.checks["passed"].all()),
                "max R-hat": float(checks["max R-hat"]),
                "min bulk ESS (draws)": float(checks["min bulk ESS"]),
                "min tail ESS (draws)": float(checks["min tail ESS"]),
                "divergences (count)": float(checks["divergences"]),
                "min E-BFMI": float(checks["min E-BFMI"]),
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
        "<h4>Ledger (input rows by status and reason)</h4>"
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
    )
    priors = pd.DataFrame({"parameter": list(f.priors), "prior": list(f.priors.values())})
    summary = f.summary.copy()
    kind, prob = summary["ci_kind"].iloc[0], summary["ci_prob"].iloc[0]
    interval = f"{prob:.0%} {kind.upper()}"
    summary = summary.rename(
        columns={"ci_lower": f"{interval} lower", "ci_upper": f"{interval} upper"}
    ).drop(columns=["ci_kind", "ci_prob", "description"])
    figures = "".join(
        f"<h4>{html.escape(name)}</h4><img alt='{html.escape(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
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
        + _table(f.checks, text_columns=("check", "rule", "worst"), digits=4)
        + f"<h4>Estimates (posterior mean, sd, {interval} credible interval)</h4>"
        + _table(summary, text_columns=("parameter", "unit"))
        + _estimands_html(f.estimands, interval)
        + figures
        + "</div>"
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
