"""The self-contained HTML report: the answers first, then data, models, diagnostics, figures.

This module turns a run's tables into what the Jinja2 templates under ``il6fit/templates/``
show; the markup lives there. The models' equations are their families' reStructuredText,
rendered to MathML by docutils when the report is built, so the page shows mathematics with
no network and no script. Figures are embedded, so the page is one file.

Nothing here identifies a subject: tables are aggregated or per parameter, never per row.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import yaml
from markupsafe import Markup

from il6fit.diagnostics import PARETO_K_CHECK, failed_checks, loo_warning
from il6fit.history import changes_since, record
from il6fit.models.family import Answer, Headline
from il6fit.plots import COMPARISON_CAPTION

#: The report's templates (their edits rerun the report: il6fit.catalogue counts them).
TEMPLATES = Path(__file__).with_name("templates")


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
    #: the family's first answers (:attr:`il6fit.models.ModelFamily.headlines`)
    headlines: Sequence[Headline] = ()
    #: the fit's resolved options, which the headline sentences read
    options: Any = None
    #: the control arm (the first), for effects against it
    control: str | None = None

    @property
    def name(self) -> str:
        """``<model> on <dataset>``, as messages and tables name a fit."""
        return f"{self.model} on {self.dataset}"

    @property
    def anchor(self) -> str:
        """The id of the fit's section in the page."""
        return re.sub(r"[^A-Za-z0-9_-]", "-", f"fit-{self.model}-{self.dataset}")

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


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and how it is styled (``text``, ``pass``, ``fail``)."""

    text: str
    style: str = ""


@dataclass(frozen=True)
class Table:
    """A table as the templates draw it: headers (with whether each is text) and cells."""

    columns: list[tuple[str, bool]]
    rows: list[list[Cell]]

    def __bool__(self) -> bool:
        return bool(self.rows)


def table(frame: pd.DataFrame, *, text_columns: Sequence[str] = (), digits: int = 3) -> Table:
    """Format a data frame for the templates: numbers to ``digits`` significant digits.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    text_columns : sequence of str
        Columns aligned left.
    digits : int
        Significant digits of floats (those of 1e5 and more are shown whole).

    Returns
    -------
    Table
        Booleans become ``pass`` / ``FAIL``, NaN ``–`` (not applicable).

    Examples
    --------
    >>> t = table(pd.DataFrame({"check": ["R-hat"], "value": [1.00312], "passed": [True]}),
    ...           text_columns=["check"])
    >>> [(c.text, c.style) for c in t.rows[0]]
    [('R-hat', 'text'), ('1', ''), ('pass', 'pass')]
    """

    def cell(column, value) -> Cell:
        style = "text" if column in text_columns else ""
        if isinstance(value, bool | np.bool_):
            return Cell("pass", "pass") if value else Cell("FAIL", "fail")
        if isinstance(value, float) and value != value:  # NaN: not applicable
            return Cell("–", style)
        if isinstance(value, float):
            return Cell(f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.0f}", style)
        return Cell(str(value), style)

    return Table(
        columns=[(str(c), c in text_columns) for c in frame.columns],
        rows=[
            [cell(c, v) for c, v in zip(frame.columns, row, strict=True)]
            for row in frame.itertuples(index=False)
        ],
    )


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
    current = record(fits=fits, config=config, versions=versions)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            fits=fits,
            failing=failing,
            loo_unreliable=[f for f in fits if f.passed and f.loo_warning],
            answers=answers(fits),
            landmarks=_landmarks(fits),
            convergence=_convergence(fits),
            datasets=[_dataset(d) for d in datasets],
            fit_details=[_fit(f) for f in fits],
            comparisons=_comparisons(comparisons, failing),
            sensitivity=_sensitivity(fits),
            calibration=_calibration(calibration),
            changes=None if previous is None else _changes(previous, current),
            provenance=_provenance(fits, config, versions),
            comparison_caption=COMPARISON_CAPTION,
        )
    )


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def image_uri(png: bytes) -> str:
    """Return a PNG as a ``data:`` URI, for an ``<img>`` embedded in the page.

    Parameters
    ----------
    png : bytes
        The image file.

    Returns
    -------
    str
    """
    return "data:image/png;base64," + base64.b64encode(png).decode()


def answers(fits: Sequence[FitSection]) -> list[dict]:
    """Collect the first section: each fit's headline results by dataset, in words and numbers.

    The first fit of a dataset that answers a question (the config's first model, its primary
    analysis) answers it up front; later fits answering the same question follow apart.

    Parameters
    ----------
    fits : sequence of FitSection
        The fits, with their families' headlines, options and control arm.

    Returns
    -------
    list of dict
        Per dataset (in the order fits name them): ``dataset``, ``rows`` (primary) and
        ``others``, each row with ``question``, ``term`` (the arm or element, or ""),
        ``model``, ``anchor``, ``passed``, ``estimate`` (mean and interval), ``unit`` and
        ``sentence``.
    """
    groups: dict[str, dict] = {}
    for f in fits:
        group = groups.setdefault(f.dataset, {"dataset": f.dataset, "rows": [], "others": []})
        answered = {row["question"] for row in group["rows"]}
        tables = [f.summary] + ([f.estimands] if f.estimands is not None else [])
        values = pd.concat(tables, ignore_index=True)
        name = values["parameter"].str.partition("[")[0]
        for headline in f.headlines:
            rows = group["others"] if headline.question in answered else group["rows"]
            for row in values[name == headline.parameter].itertuples():
                element = row.parameter.partition("[")[2].rstrip("]") or None
                answer = Answer(element, float(row.mean), float(row.ci_lower),
                                float(row.ci_upper), float(row.ci_prob), f.options,
                                f.control)  # fmt: skip
                probability = row.unit == "posterior probability"
                rows.append(
                    {
                        "question": headline.question,
                        "term": element or "",
                        "model": f.model,
                        "anchor": f.anchor,
                        "passed": f.passed,
                        "estimate": f"{answer.mean:.2f}"
                        if probability
                        else f"{answer.mean:.2f} ({answer.lower:.2f} to {answer.upper:.2f})",
                        "unit": row.unit,
                        "sentence": headline.sentence(answer),
                    }
                )
    return list(groups.values())


def equations_html(text: str) -> Markup:
    r"""Render a family's equations (reStructuredText with ``.. math::``) as HTML with MathML.

    Parameters
    ----------
    text : str
        reStructuredText; Sphinx cross-references (``:func:`` ...) are shown as code.

    Returns
    -------
    markupsafe.Markup
        The body: paragraphs, lists and ``<math>`` elements a browser renders.

    Examples
    --------
    >>> html = equations_html("Slope :math:`\\beta` per :func:`fit`.")
    >>> "<math" in html and "literal" in html and "\\beta" not in html
    True
    """
    from docutils.core import publish_parts

    _code_roles()
    parts = publish_parts(
        text,
        writer="html5",
        settings_overrides={
            "math_output": "MathML",
            "doctitle_xform": False,
            "report_level": 5,
            "halt_level": 5,
            "output_encoding": "unicode",
        },
    )
    return Markup(parts["body"])


@functools.cache
def _code_roles() -> None:
    """Show Sphinx's cross-reference roles, which plain docutils lacks, as code."""
    from docutils import nodes
    from docutils.parsers.rst import roles

    def code(name, rawtext, text, lineno, inliner, options=None, content=None):
        return [nodes.literal(rawtext, text.lstrip("~"))], []

    for role in ("func", "class", "mod", "data", "attr", "meth", "obj"):
        roles.register_local_role(role, code)


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
    frame = pd.DataFrame(rows)
    for f in fits:
        estimates = f.estimands.set_index("parameter")
        verdict = "passed" if f.passed else "FAILED"
        frame[f"{f.model} ({verdict})"] = [
            f"{estimates.loc[k, 'mean']:.2f} ({estimates.loc[k, 'ci_lower']:.2f} to "
            f"{estimates.loc[k, 'ci_upper']:.2f})"
            if k in estimates.index
            else "-"
            for k in frame["key"]
        ]
    return frame.drop(columns="key")


def _landmarks(fits: Sequence[FitSection]) -> list[dict]:
    with_landmark = [f for f in fits if f.observed_change is not None and f.estimands is not None]
    out = []
    for dataset in dict.fromkeys(f.dataset for f in with_landmark):
        group = [f for f in with_landmark if f.dataset == dataset]
        options = group[0].metadata.get("options", {}).get("options", {})
        frame = landmark_table(group)
        out.append(
            {
                "dataset": dataset,
                "primary": group[0].model,
                "score": str(options.get("score", "score")),
                "week": f"{options.get('landmark_week', float('nan')):g}",
                "interval": f"{group[0].estimands['ci_prob'].iloc[0]:.0%}",
                "table": table(frame, text_columns=tuple(frame.columns)),
            }
        )
    return out


def _convergence(fits: Sequence[FitSection]) -> Table:
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
    return table(pd.DataFrame(rows), text_columns=("model", "dataset"))


def _dataset(d: DatasetSection) -> dict:
    ledger = d.ledger
    # reasons read "<kind>: <details>" (row numbers, days); the report counts them by kind
    kind = ledger["reason"].fillna("").str.split(": ", n=1).str[0]
    counts = (
        ledger.assign(reason=kind.replace("", "-"))
        .groupby(["table", "status", "reason"], dropna=False)
        .size()
        .rename("rows (count)")
        .reset_index()
    )
    per_param = (
        d.measurements.groupby("PARAMCD")
        .agg(
            unit=("AVALU", "first"),
            results=("AVAL", "size"),
            below_LLOQ=("CENS", lambda c: int((c == -1).sum())),
            above_ULOQ=("CENS", lambda c: int((c == 1).sum())),
            median=("AVAL", "median"),
            derived=("SOURCE", lambda s: int((s == "derived").sum())),
        )
        .reset_index()
        .rename(
            columns={
                "results": "results (count)",
                "below_LLOQ": "below LLOQ (count)",
                "above_ULOQ": "above ULOQ (count)",
                "median": "median (unit)",
                "derived": "derived (count)",
            }
        )
    )
    return {
        "name": d.name,
        "source": d.source,
        "subjects": d.subjects,
        "rows": len(ledger),
        "missing": d.missing_covariates,
        "ledger": table(counts, text_columns=("table", "status", "reason")),
        "parameters": table(per_param, text_columns=("PARAMCD", "unit")),
    }


def _fit(f: FitSection) -> dict:
    summary = f.summary.copy()
    kind, prob = summary["ci_kind"].iloc[0], summary["ci_prob"].iloc[0]
    interval = f"{prob:.0%} {kind.upper()}"
    summary = summary.rename(
        columns={"ci_lower": f"{interval} lower", "ci_upper": f"{interval} upper"}
    ).drop(columns=["ci_kind", "ci_prob", "description"])
    priors = pd.DataFrame({"parameter": list(f.priors), "prior": list(f.priors.values())})
    checks = f.checks
    if "gates" in checks:
        # say in words whether each check makes the verdict (not as a pass/FAIL cell)
        part = checks["gates"].map({True: "verdict", False: "reported beside"})
        checks = checks.drop(columns="gates").assign(**{"part of": part})
    return {
        "fit": f,
        "failures": failed_checks(f.checks),
        "sampler": "{backend}, {chains} chains x {draws} draws after {tune} tuning steps".format(
            **{"backend": "", "chains": "", "draws": "", "tune": ""} | f.metadata.get("sampler", {})
        ),
        "seed": f.metadata.get("seed", ""),
        "equations": equations_html(f.equations),
        "priors": table(priors, text_columns=("parameter", "prior")),
        "checks": table(checks, text_columns=("check", "rule", "part of", "worst"), digits=4),
        "attempts": _attempts(f),
        "interval": interval,
        "summary": table(summary, text_columns=("parameter", "unit")),
        "estimands": None if f.estimands is None else _estimands(f.estimands, interval),
        "figures": [
            {"name": name, "caption": f.captions.get(name, name), "uri": image_uri(png)}
            for name, png in f.figures.items()
        ],
    }


def _attempts(f: FitSection) -> dict | None:
    attempts = f.metadata.get("attempts", [])
    if not attempts:
        return None
    frame = pd.DataFrame(
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
    return {
        "outcome": f"passed at attempt {last['attempt']}"
        if last["passed"]
        else f"still failing after {last['attempt']} attempts: marked FAILED",
        "table": table(frame, text_columns=("why refitted / failures",), digits=4),
    }


def _estimands(estimands: pd.DataFrame, interval: str) -> Table:
    frame = estimands[["parameter", "mean", "ci_lower", "ci_upper", "unit", "description"]]
    frame = frame.rename(
        columns={
            "parameter": "estimand",
            "mean": "posterior mean",
            "ci_lower": f"{interval} lower",
            "ci_upper": f"{interval} upper",
        }
    )
    return table(frame, text_columns=("estimand", "unit", "description"))


def _comparisons(
    comparisons: Sequence[ComparisonSection], failing: Sequence[FitSection]
) -> list[dict]:
    failed = {(f.model, f.dataset) for f in failing}
    out = []
    for c in comparisons:
        frame = c.table.copy()
        frame["fit verdict"] = [
            "FAILED" if (m, c.dataset) in failed else "passed" for m in frame["model"]
        ]
        out.append(
            {
                "name": c.name,
                "dataset": c.dataset,
                "patients": int(c.table["n_observations"].iloc[0]),
                "failed": [m for m in frame["model"] if (m, c.dataset) in failed],
                "table": table(
                    frame, text_columns=("model", "fit verdict", "loo_method"), digits=4
                ),
                "uri": image_uri(c.figure) if c.figure else None,
            }
        )
    return out


def _sensitivity(fits: Sequence[FitSection]) -> list[dict]:
    out = []
    for f in fits:
        if f.sensitivity is None:
            continue
        frame = f.sensitivity.rename(
            columns={"prior": "prior sensitivity", "likelihood": "likelihood sensitivity"}
        ).assign(flagged=f.sensitivity["flagged"].map({True: "FLAGGED", False: "-"}))
        out.append(
            {
                "fit": f,
                "flagged": f.sensitivity.loc[f.sensitivity["flagged"], "parameter"].tolist(),
                "table": table(frame, text_columns=("parameter", "diagnosis", "flagged", "unit")),
            }
        )
    return out


def _calibration(calibration: CalibrationSection | None) -> dict | None:
    if calibration is None or not (calibration.tables or calibration.figures):
        return None
    return {
        "tables": {
            name: table(
                frame,
                text_columns=[
                    c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
                ],
            )
            for name, frame in calibration.tables.items()
        },
        "figures": {name: image_uri(png) for name, png in calibration.figures.items()},
    }


def _changes(previous: Mapping, current: Mapping) -> dict:
    changes = changes_since(previous, current)
    inputs = changes.inputs.assign(
        before=changes.inputs["before"].str[:12], now=changes.inputs["now"].str[:12]
    )
    moved = changes.shifts[changes.shifts["change in sd before"].abs() > 0]
    tables = [
        ("Inputs (SHA-256, first 12 hex digits)", inputs, ("fit", "input", "before", "now")),
        ("Config", changes.config, ("config key", "before", "now")),
        ("Package versions", changes.versions, ("package", "before", "now")),
        ("Diagnostics verdicts", changes.verdicts, ("fit", "before", "now")),
    ]
    return {
        "tables": [(title, table(frame, text_columns=text)) for title, frame, text in tables],
        "new_fits": changes.new_fits,
        "gone": changes.gone,
        "moved": len(moved),
        "estimates": len(changes.shifts),
        "beyond_sd": int((moved["change in sd before"].abs() > 1).sum()),
        "shifts": table(moved.head(25), text_columns=("fit", "parameter", "unit")),
    }


def _provenance(fits: Sequence[FitSection], config: Mapping, versions: Mapping[str, str]) -> dict:
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
    return {
        "versions": table(
            pd.DataFrame({"package": list(versions), "version": list(versions.values())}),
            text_columns=("package", "version"),
        ),
        "seeds": table(seeds, text_columns=("model", "dataset")),
        "hashes": table(hashes, text_columns=("fit", "input", "sha256")),
        "config": yaml.safe_dump(dict(config), sort_keys=False),
    }
