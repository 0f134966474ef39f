"""Write docs/calibration.md from the results of `make calibrate` (results/calibration/).

Usage: ``.venv/bin/python tools/calibration_doc.py "<run time>"``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from il6fit.models import get_model
from il6fit.provenance import package_versions
from il6fit.ranks import summarise_ranks
from il6fit.settings import sampler_settings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Tabulate every calibrated model's coverage and ECDF verdict."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["calibration"]
    run_time = sys.argv[1] if len(sys.argv) > 1 else "not recorded"
    full = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    earlier = _sections((ROOT / "docs" / "calibration.md").read_text())
    lines = [
        "# Simulation-based calibration",
        "",
        "Written by `tools/calibration_doc.py` from the results of `make calibrate`",
        "(`results/calibration/`); the method is in the docstring of `il6fit/sbc.py`.",
        "",
        f"- Replicates per model: {config['replicates']}"
        + "".join(f", {model} {n}" for model, n in config.get("model_replicates", {}).items())
        + f"; in jobs of {config['batch_size']}"
        + "".join(f", {model} {n}" for model, n in config.get("model_batch_size", {}).items())
        + ".",
        "- Each replicate: parameters from the prior, outcomes from the model on a fixed "
        "simulated design, a fit with nutpie with the model's fit settings (shown per model: "
        "those of a run, so the gate judges the fits a run makes), the truth ranked among "
        f"{config['sampler']['n_ranks']} evenly thinned draws.",
        f"- Verdict: every quantity's rank ECDF (on the rank grid) within its band, the bands "
        f"holding together with probability {config['band_prob']:.0%} for a calibrated model "
        "(Bonferroni over the quantities). z is the mean rank's distance from its expectation "
        "in standard errors: negative, the posteriors sit above the truth on average.",
        "- Each model's verdict is also shown on its first 100, 200, 400, ... replicates, the "
        "looks at which the run was extended: a verdict that passes only at the last look "
        "would show.",
        f"- Run time on 2 cores: {run_time}.",
        f"- Versions: PyMC {package_versions()['pymc']}, nutpie {package_versions()['nutpie']}.",
        "",
    ]
    for model in config["models"]:
        path = ROOT / "results" / "calibration" / model / "coverage.csv"
        if not path.exists():
            # not rerun: the section of the run that last calibrated it stays, saying so
            kept = earlier.get(model, "Not run.")
            note = "Not rerun by the latest `make calibrate`: the record below is an earlier run's."
            if not kept.startswith("Not r"):
                kept = f"{note}\n\n{kept}"
            lines += [f"## {model}", "", kept, ""]
            continue
        coverage = pd.read_csv(path)
        ranks = pd.read_csv(path.with_name("ranks.csv"))
        design = config.get("designs", {}).get(model) or get_model(model).calibration.design
        failing = int(coverage["replicates_failing_gate"].iloc[0])
        inside = int(coverage["within_band"].sum())
        n = int(coverage["replicates"].max())
        settings = {**sampler_settings(full, model), **config["sampler"]}
        lines += [
            f"## {model}",
            "",
            f"Fits: {settings['chains']} chains x {settings['draws']} draws after "
            f"{settings['tune']} tuning steps, target acceptance {settings['target_accept']}, "
            f"{settings.get('adaptation', 'low_rank').replace('_', '-')} mass-matrix adaptation. "
            f"A coverage of 0.90 over {n} replicates has a standard error of "
            f"{(0.9 * 0.1 / n) ** 0.5:.3f}; mean 90 % coverage over the quantities: "
            f"{coverage['coverage_90'].mean():.3f}.",
            "",
            f"Design: {design}. Verdict: "
            + ("**passed**" if inside == len(coverage) else "**FAILED**")
            + f", {inside} of {len(coverage)} ECDFs within their bands; "
            f"{failing} of {n} replicate fits ({failing / n:.1%}) failed the "
            "diagnostics gate (kept and counted)" + _failure_tally(ranks) + ".",
            "",
            _looks(ranks, config["band_prob"]),
            "",
            "| quantity | kind | 50 % | 80 % | 90 % | 95 % | z | within band |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in coverage.itertuples():
            lines.append(
                f"| `{row.quantity}` | {row.kind} | {row.coverage_50:.2f} | {row.coverage_80:.2f} "
                f"| {row.coverage_90:.2f} | {row.coverage_95:.2f} | {row.mean_rank_z:+.2f} | "
                f"{'yes' if row.within_band else 'NO'} |"
            )
        lines.append("")
    (ROOT / "docs" / "calibration.md").write_text("\n".join(lines))


def _sections(text: str) -> dict[str, str]:
    """Split an earlier docs/calibration.md into its model sections (heading left out)."""
    parts = re.split(r"^## (\S+)\n\n", text, flags=re.MULTILINE)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def _looks(ranks: pd.DataFrame, band_prob: float) -> str:
    """Give the verdict on the first 100, 200, 400, ... replicates and on all of them."""
    total = int(ranks["replicate"].max()) + 1
    looks = [n for n in (100 * 2**k for k in range(8)) if n < total] + [total]
    parts = []
    for n in looks:
        verdict = summarise_ranks(ranks[ranks["replicate"] < n], band_prob=band_prob)
        outside = verdict.loc[~verdict["within_band"], "quantity"].tolist()
        parts.append(
            f"{n}: " + ("passed" if not outside else "failed (" + ", ".join(outside) + ")")
            + f", max |z| {verdict['mean_rank_z'].abs().max():.2f}"
        )  # fmt: skip
    return "Verdict by replicates: " + "; ".join(parts) + "."


#: One failed check as il6fit.diagnostics.failed_checks writes it, e.g.
#: "min bulk ESS 376.3 (limit >= 400; tau_site)".
FAILED_CHECK = re.compile(
    r"([A-Za-z][A-Za-z -]*?) [-0-9.e+na]+ \(limit [<>=]+ [^;)]+(?:; ([^)]+))?\)"
)


def _failure_tally(ranks: pd.DataFrame) -> str:
    """Tally the checks failing replicate fits failed, by the parameter responsible."""
    fits = ranks.drop_duplicates("replicate")
    named = pd.Series(
        [
            check + (f" of `{worst}`" if worst else "")
            for text in fits["failed_checks"].dropna()
            for check, worst in FAILED_CHECK.findall(text)
        ],
        dtype=str,
    )
    counts = named.value_counts().head(4).items()
    tally = ", ".join(f"{check} ({n} fit{'s' * (n != 1)})" for check, n in counts)
    return f"; most frequent failed checks: {tally}" if tally else ""


if __name__ == "__main__":
    main()
