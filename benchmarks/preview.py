"""Fast preview (``sampler.method: advi``) against NUTS.

    .venv/bin/python benchmarks/preview.py [--model treatment_response] [--subjects 600]

Fits the model to a simulated trial (600 patients by default, the default data) with the
pipeline's NUTS settings and with its preview (the same settings with ``method="advi"``:
mean-field ADVI, then 2,000 draws from the approximation), and reports each run's time and, per
key parameter, the error of the preview's mean in NUTS posterior SDs and the ratio of its SD to
NUTS's. Writes ``benchmarks/results/preview-<model>-<subjects>.csv``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import replace
from pathlib import Path

import samplers

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="treatment_response", choices=samplers.MODELS)
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--iterations", type=int, default=30000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.out = args.out or HERE / "results" / f"preview-{args.model}-{args.subjects}.csv"
    warnings.simplefilter("ignore")

    from il6fit.sampling import sample_posterior

    family, table = samplers.analysis_table(args.model, args.subjects, 2026)
    settings = samplers.pipeline_settings(args.model)
    start = time.perf_counter()
    nuts = sample_posterior(family.build(table, family.default_priors), settings, seed=1)
    nuts_s = time.perf_counter() - start
    preview = replace(settings, method="advi", advi_iterations=args.iterations)
    start = time.perf_counter()
    advi = sample_posterior(family.build(table, family.default_priors), preview, seed=1)
    advi_s = time.perf_counter() - start
    out = samplers.compare_posteriors(family, nuts, advi, ("nuts", "advi"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out)
    print(
        f"{args.model}, {args.subjects} patients: NUTS (compile + sampling) {nuts_s:.1f} s; "
        f"preview (ADVI, {args.iterations} steps, compile included) {advi_s:.1f} s; largest "
        f"error {out['error_in_sd'].abs().max():.1f} posterior SD"
    )
    print(samplers.markdown(out.reset_index()))


if __name__ == "__main__":
    main()
