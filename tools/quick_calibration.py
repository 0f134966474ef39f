"""A quick look at calibration replicates of one model, outside the workflow.

    .venv/bin/python tools/quick_calibration.py treatment_response 60
    .venv/bin/python tools/quick_calibration.py il6_crp 40 --adaptation diag

Runs replicates 0..N-1 of the model's shipped calibration design (the family's
``Calibration.design``, design seed 7, replicate seeds 1000 + 17 r) with the model's fit
settings of ``config/config.yaml`` (``sampler`` and ``sampler.models``: what its fits in a run
use; ``--chains`` etc. override them), and prints
how many replicate fits failed the diagnostics gate, why, and the 90 % interval coverage of
each quantity. ``make calibrate`` is the full check; this is for comparing a change quickly.
"""

import argparse
import logging
import warnings
from pathlib import Path

import pandas as pd
import yaml

from il6fit.models import get_model
from il6fit.sampling import SamplerSettings
from il6fit.sbc import Calibrator, design
from il6fit.settings import sampler_settings


def main() -> None:
    """Run the replicates and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("replicates", type=int)
    parser.add_argument("--adaptation", choices=("low_rank", "diag"))
    parser.add_argument("--option", action="append", default=[], help="family option key=value")
    parser.add_argument("--chains", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--draws", type=int)
    parser.add_argument("--target-accept", type=float)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    family = get_model(args.model)
    options = dict(item.split("=", 1) for item in args.option)
    table = design(args.model, family.calibration.design, seed=7, options=options)
    config = yaml.safe_load(Path("config/config.yaml").read_text())
    shipped = sampler_settings(config, args.model)
    given = {
        "adaptation": args.adaptation, "chains": args.chains, "tune": args.tune,
        "draws": args.draws, "target_accept": args.target_accept,
    }  # fmt: skip
    settings = SamplerSettings(**{**shipped, **{k: v for k, v in given.items() if v is not None}})
    calibrator = Calibrator(args.model, table, settings=settings, n_ranks=99, options=options)
    out = pd.concat([calibrator.replicate(r, 1000 + 17 * r) for r in range(args.replicates)])
    per = out.groupby("replicate").first()
    print(f"{args.model} {options} ({settings}): {int((~per['gate_passed']).sum())} of "
          f"{args.replicates} replicate fits failed the gate")  # fmt: skip
    print(per.loc[~per["gate_passed"], "failed_checks"].to_string())
    print(out.groupby("quantity")["in_90"].mean().rename("coverage_90").to_string())


if __name__ == "__main__":
    main()
