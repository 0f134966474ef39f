r"""``treatment_response`` with the patient effects integrated out: is its cost linear in patients?

    .venv/bin/python benchmarks/marginal.py                 # check, compare at 1,000, then sizes
    .venv/bin/python benchmarks/marginal.py --sizes 1000 3000 10000 30000 --no-compare

The shipped model (``il6fit/models/treatment_response.py``) samples two effects per patient,

.. math::

    y_{it} &\sim N(b_i + \Delta_i z_{it}, \sigma^2), \qquad z_{it} = 1 - e^{-k t_{it}}, \\
    b_i &\sim N(m^b_i, \sigma_b^2), \qquad m^b_i = \mu_b + \gamma_b x_i, \\
    \Delta_i &\sim N(m^\Delta_i, \tau_\Delta^2), \qquad
        m^\Delta_i = \delta_{a[i]} + \eta\, d_{a[i]} x_i .

Given the global parameters it is linear and Gaussian in :math:`(b_i, \Delta_i)`, so they
integrate out exactly: with :math:`U_i = [\mathbf 1, z_i]` (:math:`T_i \times 2`, one row per
visit) and :math:`S = \mathrm{diag}(\sigma_b^2, \tau_\Delta^2)`,

.. math::

    y_i \sim N\!\left(m^b_i \mathbf 1 + m^\Delta_i z_i,\;
        \Sigma_i = \sigma^2 I_{T_i} + U_i S U_i^\top\right).

With the residual :math:`r_i = y_i - m^b_i \mathbf 1 - m^\Delta_i z_i`, the 2-vector
:math:`h_i = S^{1/2} U_i^\top r_i = (\sigma_b \sum_t r_{it}, \tau_\Delta \sum_t z_{it} r_{it})`
and the 2 x 2 matrix

.. math::

    M_i = I_2 + \sigma^{-2} S^{1/2} U_i^\top U_i S^{1/2}
        = \begin{pmatrix} 1 + \sigma_b^2 T_i / \sigma^2 & \sigma_b \tau_\Delta \sum_t z_{it}
          / \sigma^2 \\ \cdot & 1 + \tau_\Delta^2 \sum_t z_{it}^2 / \sigma^2 \end{pmatrix},

the Woodbury identity and the matrix determinant lemma give

.. math::

    \log p(y_i \mid \theta) = -\tfrac12 \Big[ T_i \log(2\pi\sigma^2) + \log\det M_i
        + \frac{r_i^\top r_i}{\sigma^2} - \frac{h_i^\top M_i^{-1} h_i}{\sigma^4} \Big],

which costs :math:`O(T_i)`: it needs :math:`T_i, \sum_t z_{it}, \sum_t z_{it}^2` and the
residual sums (sums over patient :math:`i`'s visits)

.. math::

    \textstyle\sum r &= \textstyle\sum y - T_i m^b_i - m^\Delta_i \sum z, \qquad
    \textstyle\sum z r = \sum z y - m^b_i \sum z - m^\Delta_i \sum z^2, \\
    \textstyle\sum r^2 &= \textstyle\sum y^2 - 2 m^b_i \sum y - 2 m^\Delta_i \sum z y
        + T_i (m^b_i)^2 + 2 m^b_i m^\Delta_i \sum z + (m^\Delta_i)^2 \sum z^2,

of which :math:`T_i, \sum y, \sum y^2` are data and :math:`\sum z, \sum z^2, \sum z y` are three
products of the (patient, week) grid the shipped model already uses (visit mask; outcome, 0 where
unseen) with the vector :math:`z_w = 1 - e^{-k w}` over distinct weeks: no loop over patients
(``--form grid`` forms the masked residual grid instead, for comparison). The model's
log-likelihood is one ``pm.Potential``, :math:`\sum_i \log p(y_i \mid \theta)`, and its free
parameters are the ten globals whatever the number of patients. Priors are the shipped model's.

Steps:

1. *Check*: on a 20-patient table, the marginal model's log density at a random point equals the
   shipped model's global prior terms plus :math:`\sum_i` ``scipy.stats.multivariate_normal``
   of each patient's visits (brute force, full covariance), to 1e-8 relative.
2. *Compare* at 1,000 patients: fit the shipped model and the marginal one (pipeline settings,
   the same data) and print posterior mean and sd of the globals side by side.
3. *Cost*: fit the marginal model at each size on the data ``benchmarks/scaling.py`` fits
   (``ra_tcz_trial``, seed 2026, ``samplers.analysis_table``), with
   ``il6fit.sampling.sample_posterior`` and ``samplers.pipeline_settings``, recording compile
   and sampling time, min bulk ESS of the globals, leapfrog steps per draw, ms per gradient and
   the default config's gate verdict (``samplers.gate``; no Pareto-k: no pointwise
   log-likelihood). Writes ``benchmarks/results/marginal.csv`` and prints a Markdown table
   beside the shipped model's ``benchmarks/results/scaling.csv``.

All fits run in this one process, one after another (2 chains each). The shipped model is refitted
at ``--shipped-sizes`` (10,000 by default) as well, so that both are timed under the same machine
load; ``scaling.csv`` may have been measured on a quieter machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import samplers  # noqa: E402

MODEL = "treatment_response"
GLOBALS = ("mu_base", "gamma_base", "sigma_base", "delta", "eta", "tau_delta", "log_k", "sigma")
SEED = 2026


def build_marginal(table: pd.DataFrame, priors, form: str = "sums"):
    """The shipped model's priors with (base, plateau) integrated out (module docstring).

    ``form="sums"`` expands the residual sums in the data's per-patient sums (default, fewer
    operations per gradient); ``"grid"`` forms the masked residual grid, as a cross-check.
    """
    import pymc as pm

    from il6fit.models.arms import arm_order
    from il6fit.models.il6_crp import IL6_REFERENCE

    subjects, subject_idx = np.unique(table["USUBJID"], return_inverse=True)
    weeks, week_idx = np.unique(table["week"].to_numpy(float), return_inverse=True)
    cell = subject_idx * len(weeks) + week_idx
    if len(np.unique(cell)) != len(cell):
        raise ValueError("a patient has two visits in one week: the grid needs one per cell")
    seen = np.zeros(len(subjects) * len(weeks))
    seen[cell] = 1.0
    y_grid = np.zeros(len(subjects) * len(weeks))  # 0 where unseen (masked; not NaN)
    y_grid[cell] = table["y"].to_numpy(float)
    shape = (len(subjects), len(weeks))
    arms = arm_order(table)
    per_subject = table.groupby("USUBJID").first().loc[subjects]
    x = per_subject["log_il6"].to_numpy(float) - np.log(IL6_REFERENCE)
    active = (per_subject["dose"].to_numpy(float) > 0).astype(float)
    subject_arm = per_subject["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy()
    coords = {"subject": subjects, "arm": arms, "week": weeks}
    with pm.Model(coords=coords) as model:
        il6 = pm.Data("log_il6_centred", x, dims="subject")
        is_active = pm.Data("active", active, dims="subject")
        arm = pm.Data("subject_arm", subject_arm, dims="subject")
        week = pm.Data("weeks", weeks, dims="week")
        mask = pm.Data("seen", seen.reshape(shape), dims=("subject", "week"))
        y = pm.Data("y_grid", y_grid.reshape(shape), dims=("subject", "week"))
        visits = pm.Data("visits", seen.reshape(shape).sum(axis=1), dims="subject")
        mu_base = priors["mu_base"].create("mu_base")
        gamma_base = priors["gamma_base"].create("gamma_base")
        sigma_base = priors["sigma_base"].create("sigma_base")
        delta = priors["delta"].create("delta", dims="arm")
        eta = priors["eta"].create("eta")
        tau_delta = priors["tau_delta"].create("tau_delta")
        log_k = priors["log_k"].create("log_k")
        k = pm.Deterministic("k", pm.math.exp(log_k))
        sigma = priors["sigma"].create("sigma")

        mean_base = mu_base + gamma_base * il6
        mean_plateau = delta[arm] + eta * is_active * il6
        z = 1 - pm.math.exp(-k * week)  # (week,)
        sum_z = pm.math.dot(mask, z)
        sum_zz = pm.math.dot(mask, z**2)
        if form == "grid":  # residuals on the masked grid
            resid = mask * (y - mean_base[:, None] - mean_plateau[:, None] * z[None, :])
            sum_r = resid.sum(axis=1)
            sum_zr = pm.math.dot(resid, z)
            sum_rr = (resid**2).sum(axis=1)
        else:  # residual sums expanded in the data's sums: three (patient x week) products
            sum_y = pm.Data("sum_y", y_grid.reshape(shape).sum(axis=1), dims="subject")
            sum_yy = pm.Data("sum_yy", (y_grid**2).reshape(shape).sum(axis=1), dims="subject")
            sum_zy = pm.math.dot(y, z)
            sum_r = sum_y - visits * mean_base - mean_plateau * sum_z
            sum_zr = sum_zy - mean_base * sum_z - mean_plateau * sum_zz
            sum_rr = (
                sum_yy
                - 2 * mean_base * sum_y
                - 2 * mean_plateau * sum_zy
                + visits * mean_base**2
                + 2 * mean_base * mean_plateau * sum_z
                + mean_plateau**2 * sum_zz
            )
        var = sigma**2
        m11 = 1 + sigma_base**2 * visits / var
        m12 = sigma_base * tau_delta * sum_z / var
        m22 = 1 + tau_delta**2 * sum_zz / var
        det = m11 * m22 - m12**2
        h1 = sigma_base * sum_r
        h2 = tau_delta * sum_zr
        quad = sum_rr / var - (m22 * h1**2 - 2 * m12 * h1 * h2 + m11 * h2**2) / (det * var**2)
        logp = -0.5 * (visits * np.log(2 * np.pi) + visits * pm.math.log(var) + pm.math.log(det))
        pm.Potential("y_marginal", (logp - 0.5 * quad).sum())
    return model


def brute_force_marginal(table: pd.DataFrame, point: dict) -> float:
    """Sum over patients of the exact multivariate normal density of their visits."""
    from scipy.stats import multivariate_normal

    from il6fit.models.arms import arm_order
    from il6fit.models.il6_crp import IL6_REFERENCE

    arms = arm_order(table)
    k = np.exp(point["log_k"])
    total = 0.0
    for _, rows in table.groupby("USUBJID"):
        first = rows.iloc[0]
        x = first["log_il6"] - np.log(IL6_REFERENCE)
        mb = point["mu_base"] + point["gamma_base"] * x
        md = point["delta"][arms.index(first["arm"])] + point["eta"] * (first["dose"] > 0) * x
        z = 1 - np.exp(-k * rows["week"].to_numpy(float))
        ones = np.ones_like(z)
        cov = (
            point["sigma"] ** 2 * np.eye(len(z))
            + point["sigma_base"] ** 2 * np.outer(ones, ones)
            + point["tau_delta"] ** 2 * np.outer(z, z)
        )
        total += multivariate_normal(mb + md * z, cov).logpdf(rows["y"].to_numpy(float))
    return float(total)


def check(n_subjects: int, seed: int, form: str) -> dict:
    """Marginal model's log density against shipped priors + brute-force integrated likelihood."""
    family, table = samplers.analysis_table(MODEL, n_subjects, seed)
    marginal = build_marginal(table, family.default_priors, form)
    shipped = family.build(table, family.default_priors)
    rng = np.random.default_rng(seed)
    start = marginal.initial_point()
    point = {name: value + rng.normal(0, 0.3, np.shape(value)) for name, value in start.items()}
    ours = float(marginal.compile_logp()(point))
    # the shipped model's own prior terms for the globals (Jacobians of the transforms included)
    shipped_globals = [shipped[name] for name in GLOBALS]
    # the shipped model's patient-level values are inputs of its compiled function, not of these
    # terms: any value will do
    unused = {v.name: np.zeros(n_subjects) for v in shipped.value_vars if v.name not in point}
    prior = float(shipped.compile_logp(vars=shipped_globals)({**point, **unused}))
    outputs = marginal.unobserved_value_vars  # value variables, constrained too, deterministics
    constrained = marginal.compile_fn(outputs, inputs=marginal.value_vars, point_fn=False)(**point)
    named = {v.name: np.asarray(c) for v, c in zip(outputs, constrained, strict=True)}
    values = {name: named[name] for name in GLOBALS}
    likelihood = brute_force_marginal(table, values)
    reference = prior + likelihood
    return {
        "form": form,
        "patients": n_subjects,
        "rows": len(table),
        "marginal_logp": ours,
        "brute_force_logp": reference,
        "relative_error": abs(ours - reference) / abs(reference),
    }


def fit(model, family, settings) -> tuple[dict, object]:
    from il6fit.sampling import sample_posterior

    load = os.getloadavg()[0]
    tree = sample_posterior(model, settings, seed=1)
    stats = tree["sample_stats"]
    ess, passed, failures = samplers.gate(family, tree)
    steps = float(stats["n_steps"].mean())
    iterations = settings.tune + settings.draws
    row = {
        "compile_s": stats.attrs["compile_time"],
        "sampling_s": stats.attrs["sampling_time"],
        "min_ess_bulk": ess,
        "steps_per_draw": steps,
        "iterations": iterations,
        "ms_per_gradient": 1000 * stats.attrs["sampling_time"] / (steps * iterations),
        "ess_per_s_sampling": ess / stats.attrs["sampling_time"],
        "gate_passed": passed,
        "gate_failures": failures,
        "load_before": load,
    }
    return row, tree


def compare(n_subjects: int, seed: int, form: str) -> tuple[pd.DataFrame, list[dict]]:
    family, table = samplers.analysis_table(MODEL, n_subjects, seed)
    settings = samplers.pipeline_settings(MODEL)
    runs, trees = [], {}
    for name in ("shipped", "marginal"):
        model = (
            family.build(table, family.default_priors)
            if name == "shipped"
            else build_marginal(table, family.default_priors, form)
        )
        row, trees[name] = fit(model, family, settings)
        runs.append({"model": name, "patients": n_subjects, "rows": len(table), **row})
        print(f"{name} at {n_subjects}: {row}", flush=True)
    side = samplers.compare_posteriors(
        family, trees["shipped"], trees["marginal"], ("shipped", "marginal")
    )
    return side, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 3000, 10000])
    parser.add_argument("--check-subjects", type=int, default=20)
    parser.add_argument("--compare-subjects", type=int, default=1000)
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument(
        "--extra-size",
        type=int,
        default=30000,
        help="also fitted when the largest size sampled in under a minute (0: never)",
    )
    parser.add_argument("--form", choices=("sums", "grid"), default="sums")
    parser.add_argument(
        "--shipped-sizes",
        nargs="*",
        type=int,
        default=[10000],
        help="refit the shipped model at these sizes too, under this run's machine load",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "marginal.csv")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"machine: {samplers.machine()}; load: {os.getloadavg()}", flush=True)

    for form in ("sums", "grid"):
        result = check(args.check_subjects, SEED, form)
        print(f"check: {result}", flush=True)
        if result["relative_error"] > 1e-8:
            raise SystemExit("marginal log density disagrees with the brute-force one")

    rows = []
    if not args.no_compare:
        side, runs = compare(args.compare_subjects, SEED, args.form)
        print(f"\nposterior at {args.compare_subjects} patients, shipped against marginal:")
        print(samplers.markdown(side.reset_index(names="parameter")), flush=True)
        rows += runs

    family = samplers.analysis_table(MODEL, 20, SEED)[0]
    settings = samplers.pipeline_settings(MODEL)
    sizes = list(args.sizes)
    done = {r["patients"] for r in rows if r["model"] == "marginal"}
    i = 0
    while i < len(sizes):
        n = sizes[i]
        i += 1
        if n in done:
            row = next(r for r in rows if r["model"] == "marginal" and r["patients"] == n)
        else:
            start = time.perf_counter()
            _, table = samplers.analysis_table(MODEL, n, SEED)
            model = build_marginal(table, family.default_priors, args.form)
            built = time.perf_counter() - start
            fitted, _ = fit(model, family, settings)
            row = {"model": "marginal", "patients": n, "rows": len(table), **fitted}
            row["simulate_build_s"] = built
            print(f"marginal at {n}: {row}", flush=True)
            rows.append(row)
        last = n == max(sizes) and i == len(sizes)
        if last and args.extra_size > n and row["sampling_s"] < 60:
            sizes.append(args.extra_size)
    for n in args.shipped_sizes:
        if any(r["model"] == "shipped" and r["patients"] == n for r in rows):
            continue
        _, table = samplers.analysis_table(MODEL, n, SEED)
        fitted, _ = fit(family.build(table, family.default_priors), family, settings)
        rows.append({"model": "shipped", "patients": n, "rows": len(table), **fitted})
        print(f"shipped at {n}: {rows[-1]}", flush=True)

    table = pd.DataFrame(rows)
    table.insert(1, "form", np.where(table["model"] == "marginal", args.form, ""))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print("\nthis run (same machine load):")
    cols = ["model", "patients", "rows", "compile_s", "sampling_s", "min_ess_bulk"]
    cols += ["steps_per_draw", "ms_per_gradient", "gate_passed", "load_before"]
    print(samplers.markdown(table[cols]))
    print("\nmarginal (this run) beside the shipped model's benchmarks/results/scaling.csv:")
    print(markdown_against_shipped(table))


def markdown_against_shipped(table: pd.DataFrame) -> str:
    """Marginal fits beside the shipped model's ``scaling.csv`` at the same size."""
    shipped = pd.read_csv(HERE / "results" / "scaling.csv").set_index("patients")
    marginal = table[table["model"] == "marginal"].set_index("patients")
    cols = ["compile_s", "sampling_s", "min_ess_bulk", "steps_per_draw", "ms_per_gradient"]
    out = pd.DataFrame(index=marginal.index)
    out["rows"] = marginal["rows"]
    for col in cols:
        if col in ("compile_s",):
            out[f"marginal {col}"] = marginal[col]
            continue
        out[f"shipped {col}"] = shipped[col].reindex(marginal.index)
        out[f"marginal {col}"] = marginal[col]
    out["marginal gate"] = marginal["gate_passed"]
    return samplers.markdown(out.reset_index())


if __name__ == "__main__":
    main()
