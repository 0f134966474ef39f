"""Cost of one log-density-and-gradient evaluation of ``exposure_response`` against patients.

    .venv/bin/python benchmarks/exposure_gradient.py            # 150, 300, 600, 1,200, 2,400

Each size is simulated from ``ra_tcz_trial`` (placebo, 4 and 8 mg/kg IV every 4 weeks, 8
visits), its model compiled as a fit job compiles it (numba, the Python callbacks nutpie calls)
in one process sharing one compile cache, and evaluated 100 times at the initial point. The
cost grows with the exposure profiles (patients of one regimen, sex and weight to the kilogram
share one), not with the patients. Prints one row per size; a NUTS iteration costs about
``steps per draw`` (7-8 on the default trial) evaluations.

Each size is evaluated twice, side by side: with the trial's measured concentrations (``TCZ``
rows: each treated patient's own exposure, a profile each) and without them (typical exposure).
``--il6`` adds a third: own exposure with Levi's baseline IL-6 covariate on EC50
(``il6_on_ec50``), whose fixed quadrature stage is each patient's own.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[150, 300, 600, 1200, 2400])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--il6", action="store_true", help="also with il6_on_ec50")
    args = parser.parse_args()
    from nutpie.compile_pymc import _make_functions, _wrap_with_lock
    from threadpoolctl import threadpool_limits

    from il6fit.data import as_read, prepare
    from il6fit.models import get_model
    from il6fit.models.exposure_response import exposure_design
    from il6fit.sampling import make_initial_point_fn
    from il6fit.simulate import scenario, simulate_cohort

    # one BLAS thread, as a fit samples (il6fit.sampling.sample_posterior)
    threadpool_limits(limits=1, user_api="blas")
    family = get_model("exposure_response")
    print("| patients | exposure | rows | profiles | steps | compile s | ms per evaluation |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    kinds = ("own", "typical") + (("own, IL-6 on EC50",) if args.il6 else ())
    for n, exposure in [(n, e) for n in args.sizes for e in kinds]:
        options = family.make_options({"il6_on_ec50": "IL-6" in exposure})
        subjects, measurements, _ = simulate_cohort(scenario("ra_tcz_trial", n_subjects=n), 2026)
        if exposure == "typical":
            measurements = measurements[measurements["PARAMCD"] != "TCZ"]
        data = prepare(
            as_read(subjects), as_read(measurements), subjects_file="s", measurements_file="m"
        )
        table = family.table(data.subjects, data.measurements, options)
        design = exposure_design(table)
        model = family.build(table, family.priors(None), options)
        start = time.perf_counter()
        point = make_initial_point_fn(model=model, return_transformed=True)
        _, _, logp, *_rest = _make_functions(
            model, mode="NUMBA", compute_grad=True, join_expanded=True,
            pymc_initial_point_fn=_wrap_with_lock(point),
        )  # fmt: skip
        initial = _rest[1]
        fn = logp.vm.jit_fn
        shared = [v.get_value() for v in logp.get_shared()]
        x = initial(0)
        fn(x, *shared)
        compiled = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(args.repeats):
            fn(x, *shared)
        each = (time.perf_counter() - start) / args.repeats * 1000
        print(
            f"| {n:,} | {exposure} | {len(table):,} | {len(design['profiles'])} "
            f"| {design['edges'].size - 1} "
            f"| {compiled:.1f} | {each:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
