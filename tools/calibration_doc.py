"""Write docs/calibration.md from the results of `make calibrate` (results/calibration/).

Usage: ``.venv/bin/python tools/calibration_doc.py "<run time>"``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from il6fit.provenance import package_versions
from il6fit.ranks import summarise_ranks

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Tabulate every calibrated model's coverage and ECDF verdict."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["calibration"]
    run_time = sys.argv[1] if len(sys.argv) > 1 else "not recorded"
    sampler = config["sampler"]
    lines = [
        "# Simulation-based calibration",
        "",
        "Written by `tools/calibration_doc.py` from the results of `make calibrate`",
        "(`results/calibration/`); the method is in the docstring of `il6fit/sbc.py`.",
        "",
        f"- Replicates per model: {config['replicates']}"
        + "".join(f", {model} {n}" for model, n in config.get("model_replicates", {}).items())
        + f"; in jobs of {config['batch_size']}.",
        f"- Each replicate: parameters from the prior, outcomes from the model on a fixed "
        f"simulated design, a fit with nutpie ({sampler['chains']} chains x {sampler['draws']} "
        f"draws after {sampler['tune']} tuning steps), the truth ranked among "
        f"{sampler['n_ranks']} evenly thinned draws.",
        f"- Verdict: every quantity's rank ECDF (on the rank grid) within its band, the bands "
        f"holding together with probability {config['band_prob']:.0%} for a calibrated model "
        "(Bonferroni over the quantities). z is the mean rank's distance from its expectation "
        "in standard errors: negative, the posteriors sit above the truth on average.",
        "- Each model's verdict is also shown on its first 100, 200, 400, ... replicates, the "
        "looks at which the run was extended: a verdict that passes only at the last look "
        "would show.",
        f"- Run time of the whole calibration on 2 cores: {run_time}.",
        f"- Versions: PyMC {package_versions()['pymc']}, nutpie {package_versions()['nutpie']}.",
        "",
    ]
    for model in config["models"]:
        path = ROOT / "results" / "calibration" / model / "coverage.csv"
        if not path.exists():
            lines += [f"## {model}", "", "Not run.", ""]
            continue
        coverage = pd.read_csv(path)
        ranks = pd.read_csv(path.with_name("ranks.csv"))
        design = config["designs"][model]
        failing = int(coverage["replicates_failing_gate"].iloc[0])
        inside = int(coverage["within_band"].sum())
        lines += [
            f"## {model}",
            "",
            f"Design: {design}. Verdict: "
            + ("**passed**" if inside == len(coverage) else "**FAILED**")
            + f", {inside} of {len(coverage)} ECDFs within their bands; "
            f"{failing} of {int(coverage['replicates'].max())} replicate fits failed the "
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
