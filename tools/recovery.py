"""Run the recovery studies of il6fit.validation and write docs/model-recovery.md.

Usage: ``make recovery`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from il6fit.diagnostics import PARETO_K_CHECK
from il6fit.provenance import package_versions
from il6fit.sampling import SamplerSettings
from il6fit.validation import recovery_study, studied_models

OUT = Path(__file__).resolve().parents[1] / "docs" / "model-recovery.md"
SETTINGS = SamplerSettings(chains=2, draws=1000, tune=1000, cores=2)


def main() -> None:
    """Run every study and write the results page."""
    lines = [
        "# Parameter recovery of the models fitted to outcomes drawn from them",
        "",
        "Written by `make recovery` (tools/recovery.py); `make test-slow` asserts the same",
        "(tests/slow/test_recovery.py). Each study keeps the design of a simulated 600-patient",
        "trial (`ra_tcz_trial`: arms, visits, baseline IL-6 and CRP with their censoring) and",
        "draws the outcomes from the model with the parameters below",
        "(each family's `recovery` in `il6fit.models`); subject effects and latent censored",
        "values are drawn too, the latent values from the biomarkers' population model fixed at",
        "the design's own estimates. Fit: nutpie, 2 chains x 1,000 draws after 1,000 tuning steps.",
        "Interval: 90 % equal-tailed; z = (mean - truth) / sd. One trial per model: the same",
        "studies repeated on 50-100 trials each are in",
        "[model-recovery-repeated.md](model-recovery-repeated.md) (`make recovery-repeat`).",
        "",
        f"Versions: PyMC {package_versions()['pymc']}, nutpie {package_versions()['nutpie']}.",
        "",
    ]
    for name in studied_models():
        start = time.perf_counter()
        summary, checks = recovery_study(name, settings=SETTINGS)
        seconds = time.perf_counter() - start
        # the sampler's checks: Pareto k speaks of leave-one-out estimates, not of the posterior
        sampler = checks[checks["check"] != PARETO_K_CHECK]
        failed = sampler.loc[~sampler["passed"], "check"].tolist()
        lines += [
            f"## {name}",
            "",
            f"{seconds:.0f} s (simulation, compilation and sampling); sampler checks of the gate: "
            + ("passed" if not failed else "FAILED " + ", ".join(failed))
            + f"; {int(summary['covered'].sum())} of {len(summary)} intervals cover the truth.",
            "",
            "| parameter | truth | mean | sd | 90 % interval | covered | z | R-hat | bulk ESS |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in summary.itertuples():
            lines.append(
                f"| `{row.parameter}` | {row.truth:.3g} | {row.mean:.3g} | {row.sd:.2g} | "
                f"{row.ci_lower:.3g} to {row.ci_upper:.3g} | {'yes' if row.covered else 'NO'} | "
                f"{row.z:+.2f} | {row.r_hat:.3f} | {row.ess_bulk:.0f} |"
            )
        lines.append("")
        print(f"{name}: {seconds:.0f} s", file=sys.stderr)
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
