"""A quick look at calibration replicates of one model, outside the workflow.

    .venv/bin/python tools/quick_calibration.py treatment_response 60
    .venv/bin/python tools/quick_calibration.py il6_crp 40 --adaptation diag

Runs replicates 0..N-1 of the model's shipped calibration design (the family's
``Calibration.design``, design seed 7, replicate seeds 1000 + 17 r) with the calibration
sampler of ``config/config.yaml`` (2 chains x 1000 draws after 500 tuning steps), and prints
how many replicate fits failed the diagnostics gate, why, and the 90 % interval coverage of
each quantity. ``make calibrate`` is the full check; this is for comparing a change quickly.
"""

import argparse
import logging
import warnings

import pandas as pd

from il6fit.models import get_model
from il6fit.sampling import SamplerSettings
from il6fit.sbc import Calibrator, design


def main() -> None:
    """Run the replicates and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("replicates", type=int)
    parser.add_argument("--adaptation", default="low_rank", choices=("low_rank", "diag"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    family = get_model(args.model)
    table = design(args.model, family.calibration.design, seed=7)
    settings = SamplerSettings(
        chains=2, draws=1000, tune=500, target_accept=0.95, adaptation=args.adaptation
    )
    calibrator = Calibrator(args.model, table, settings=settings, n_ranks=99)
    out = pd.concat([calibrator.replicate(r, 1000 + 17 * r) for r in range(args.replicates)])
    per = out.groupby("replicate").first()
    print(f"{args.model} ({args.adaptation}): {int((~per['gate_passed']).sum())} of "
          f"{args.replicates} replicate fits failed the gate")  # fmt: skip
    print(per.loc[~per["gate_passed"], "failed_checks"].to_string())
    print(out.groupby("quantity")["in_90"].mean().rename("coverage_90").to_string())


if __name__ == "__main__":
    main()
