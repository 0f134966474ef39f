"""Straightforward PyMC versions of the models, the baseline for PyMC's own sampler.

``treatment_response`` as it was written before issue 7: non-centred subject effects, the course
computed row by row with the subject's effects gathered for every row, observed values and
design as constants of the graph. The same model as ``il6fit.models.treatment_response``.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pymc as pm

from il6fit.models.arms import arm_order
from il6fit.models.censored import IL6_REFERENCE
from il6fit.models.priors import Prior


def treatment_response(table: pd.DataFrame, priors: Mapping[str, Prior]) -> pm.Model:
    subjects, subject_idx = np.unique(table["USUBJID"], return_inverse=True)
    arms = arm_order(table)
    per_subject = table.groupby("USUBJID").first().loc[subjects]
    x = per_subject["log_il6"].to_numpy(float) - np.log(IL6_REFERENCE)
    active = (per_subject["dose"].to_numpy(float) > 0).astype(float)
    subject_arm = per_subject["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy()
    coords = {"obs": np.arange(len(table)), "subject": subjects, "arm": arms}
    with pm.Model(coords=coords) as model:
        week = table["week"].to_numpy(float)
        mu_base = priors["mu_base"].create("mu_base")
        gamma_base = priors["gamma_base"].create("gamma_base")
        sigma_base = priors["sigma_base"].create("sigma_base")
        z_base = pm.Normal("z_base", 0.0, 1.0, dims="subject")
        base = pm.Deterministic(
            "base", mu_base + gamma_base * x + sigma_base * z_base, dims="subject"
        )
        delta = priors["delta"].create("delta", dims="arm")
        eta = priors["eta"].create("eta")
        tau_delta = priors["tau_delta"].create("tau_delta")
        z_delta = pm.Normal("z_delta", 0.0, 1.0, dims="subject")
        plateau = delta[subject_arm] + eta * active * x + tau_delta * z_delta
        log_k = priors["log_k"].create("log_k")
        k = pm.Deterministic("k", pm.math.exp(log_k))
        sigma = priors["sigma"].create("sigma")
        mu = base[subject_idx] + plateau[subject_idx] * (1 - pm.math.exp(-k * week))
        pm.Normal("y", mu, sigma, observed=table["y"].to_numpy(float), dims="obs")
    return model
