"""Fast preview: mean-field ADVI against NUTS on the default data (benchmark only).

    .venv/bin/python benchmarks/preview.py [--model treatment_response] [--iterations 30000]

Fits the model to the default simulated trial (600 patients) with the pipeline's NUTS settings
and with PyMC's ADVI (``pm.fit(method="advi")``, then 2,000 draws from the approximation), and
reports each run's time and, per key parameter, the error of the ADVI posterior mean in NUTS
posterior SDs and the ratio of the ADVI SD to the NUTS SD. Writes
``benchmarks/results/preview.csv``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import samplers

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="treatment_response", choices=samplers.MODELS)
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--iterations", type=int, default=30000)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "preview.csv")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import pandas as pd
    import pymc as pm

    from il6fit.diagnostics import summarise
    from il6fit.inference import sample_posterior

    family, table = samplers.analysis_table(args.model, args.subjects, 2026)
    settings = samplers.pipeline_settings(args.model)
    start = time.perf_counter()
    nuts = sample_posterior(family.build(table, family.default_priors), settings, seed=1)
    nuts_s = time.perf_counter() - start
    start = time.perf_counter()
    with family.build(table, family.default_priors):
        approx = pm.fit(n=args.iterations, method="advi", random_seed=1, progressbar=False)
        advi = approx.sample(2000, random_seed=2)
    advi_s = time.perf_counter() - start
    ref = summarise(nuts, family.parameters, ci_kind="eti", ci_prob=0.9).set_index("parameter")
    est = summarise(advi, family.parameters, ci_kind="eti", ci_prob=0.9).set_index("parameter")
    out = pd.DataFrame(
        {
            "nuts_mean": ref["mean"],
            "nuts_sd": ref["sd"],
            "advi_mean": est["mean"],
            "advi_sd": est["sd"],
            "error_in_sd": (est["mean"] - ref["mean"]) / ref["sd"],
            "sd_ratio": est["sd"] / ref["sd"],
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out)
    print(
        f"NUTS (compile + sampling) {nuts_s:.1f} s; ADVI ({args.iterations} steps) {advi_s:.1f} s"
    )
    print(samplers.markdown(out.reset_index()))


if __name__ == "__main__":
    main()
