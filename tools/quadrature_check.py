"""How far exposure_response's quadrature is from the integral, on trials drawn from its priors.

    .venv/bin/python tools/quadrature_check.py 100

Draws trials 0..N-1 as the calibration does (the family's calibration design, the run seed's
replicate seeds: parameters from the priors, outcomes from the model) and computes each
patient's log-likelihood at the true parameters three ways: the fixed product rule alone, the
shipped rule (the fixed rule then the :data:`ADAPTIVE` stages on each patient's own grid), and
a reference (more and finer adaptive stages). Prints, per rule, the trials whose total error
exceeds 0.1, 0.3 and 1 log units and the largest errors; then checks the reference itself
against a dense trapezoid rule (801 x 801 nodes) at the patients where the shipped rule is
furthest from it. Nothing is sampled; about 2 s a trial.
"""

import argparse
import logging
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pymc as pm
import yaml
from scipy.special import logsumexp

from il6fit.models import exposure_response as er
from il6fit.provenance import derive_seed
from il6fit.sbc import Calibrator, design

MODEL = "exposure_response"
ARGS = ("mu_base", "sigma_base", "ec50", "omega_ec50", "imax", "kout", "omega_kout", "dmard",
        "sigma")  # fmt: skip
REFERENCE = (13, 13, 13, 17)


@contextmanager
def stages(adaptive):
    """Evaluate with other adaptive stages (``()``: the fixed rule alone)."""
    shipped = er.ADAPTIVE
    er.ADAPTIVE = adaptive
    try:
        yield
    finally:
        er.ADAPTIVE = shipped


def trial(calibrator: Calibrator, seed: int):
    """Draw a trial as a calibration replicate: its design arrays and true parameters."""
    prior = pm.sample_prior_predictive(draws=1, model=calibrator.generator, random_seed=seed)
    data = calibrator.family.with_observed(
        calibrator.design, {"y": prior["prior_predictive"]["y"].values[0, 0]}
    )
    truth = {k: float(prior["prior"][k].values.ravel()[0]) for k in ARGS}
    return er.exposure_design(data), truth


def log_likelihood(arrays, truth, adaptive):
    """Each patient's log-likelihood at the truth with the adaptive stages given."""
    with stages(adaptive):
        return er.subject_log_likelihood(arrays, *[truth[a] for a in ARGS])


def dense(arrays, truth, i, nodes=801, span=7.0):
    """Patient i's log-likelihood by the trapezoid rule on a dense grid over (u, v)."""
    x = np.linspace(-span, span, nodes)
    one = {**arrays, "profile": arrays["profile"][i : i + 1], "y": arrays["y"][i : i + 1],
           "seen": arrays["seen"][i : i + 1]}  # fmt: skip
    theta = {k: truth[k] for k in ARGS if k != "omega_ec50"} | {"omega": truth["omega_ec50"]}
    # v in chunks: 801 x 51 nodes at a time
    terms = [_grid_terms(one, theta, x, chunk) for chunk in np.array_split(x, 16)]
    return logsumexp(np.concatenate([t.ravel() for t in terms])) + 2 * np.log(x[1] - x[0])


def _grid_terms(one, theta, u, v):
    """Return log p(y | u, v) phi(u) phi(v) on the product of u and v (one patient)."""
    g = er._courses_on(one, theta, u[None, :], v[None, :], np)
    log_f = er._given_effects(g, one["y"], one["seen"], theta["mu_base"], theta["sigma_base"],
                              theta["sigma"], np)[0]  # fmt: skip
    return log_f - 0.5 * u[:, None] ** 2 - 0.5 * v[None, :] ** 2 - np.log(2 * np.pi)


def main() -> None:
    """Draw the trials and print the errors."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trials", type=int)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with open("config/config.yaml") as f:
        config = yaml.safe_load(f)
    family = er.FAMILY
    spec = family.calibration.design
    table = design(MODEL, spec, seed=derive_seed(config["seed"], "sbc_design", model=MODEL))
    calibrator = Calibrator(MODEL, table, n_ranks=99)
    rows, worst = [], []
    for r in range(args.trials):
        seed = derive_seed(config["seed"], "sbc_replicate", model=MODEL, replicate=r)
        arrays, truth = trial(calibrator, seed)
        reference = log_likelihood(arrays, truth, REFERENCE)
        row = {"trial": r, **{k: truth[k] for k in ("sigma", "sigma_base", "omega_ec50",
                                                    "omega_kout")}}  # fmt: skip
        for name, adaptive in (("fixed", ()), ("shipped", er.ADAPTIVE)):
            error = log_likelihood(arrays, truth, adaptive) - reference
            row[f"{name} total"], row[f"{name} patient"] = error.sum(), np.abs(error).max()
            if name == "shipped":
                i = int(np.abs(error).argmax())
                worst.append((abs(error[i]), r, i, arrays, truth, reference[i]))
        rows.append(row)
    table = pd.DataFrame(rows)
    print(f"{args.trials} trials from the priors, {len(arrays['y'])} patients each; "
          f"reference: adaptive stages {REFERENCE}")  # fmt: skip
    for name in ("fixed", "shipped"):
        total, patient = table[f"{name} total"].abs(), table[f"{name} patient"]
        print(
            f"{name:8s} trials with |total error| > 0.1 / 0.3 / 1: {(total > 0.1).sum()} / "
            f"{(total > 0.3).sum()} / {(total > 1).sum()}; largest total {total.max():.3f}, "
            f"largest per patient {patient.max():.3f}, median per patient "
            f"{patient.median():.4f}"
        )
    print("the reference against a dense trapezoid rule at the shipped rule's worst patients:")
    for _, r, i, arrays, truth, ref in sorted(worst, key=lambda w: -w[0])[:3]:
        print(f"  trial {r} patient {i}: reference {ref:.4f}, dense {dense(arrays, truth, i):.4f}")


if __name__ == "__main__":
    main()
