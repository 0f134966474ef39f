"""Small-sample bias of the beta-binomial concentration's maximum-likelihood estimate.

Draws the joint counts of the `disease_activity` recovery study (its truth, on the design of
the simulated 600-patient trial of seed 1000) 1,000 times and fits each by maximum likelihood,
to tell a shift of ``phi_joint`` in docs/model-recovery-repeated.md that belongs to the
likelihood itself from one the model would add. Usage: ``python tools/betabinomial_mle_bias.py``
(about 30 s on this machine).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special
from scipy.stats import betabinom

from il6fit.data import as_read, prepare
from il6fit.models import get_model
from il6fit.models.disease_activity import N_JOINTS
from il6fit.simulate import scenario, simulate_cohort

REPLICATES = 1000


def main() -> None:
    """Print, per joint type, the mean and SD of the estimates and their bias in SDs."""
    study = get_model("disease_activity").recovery
    subjects, measurements, _ = simulate_cohort(
        scenario(study.scenario, n_subjects=study.n_subjects), seed=1000
    )
    data = prepare(as_read(subjects), as_read(measurements), subjects_file="simulated",
                   measurements_file="simulated")  # fmt: skip
    table = get_model("disease_activity").table(data.subjects, data.measurements, {})
    # measured values (the few censored ones at their limits): the predictors as the model
    # centres them
    design = np.column_stack(
        [
            np.ones(len(table)),
            np.log(table["IL6"].to_numpy(float)) - np.log(20),
            np.log(table["CRP"].to_numpy(float)) - np.log(10),
        ]
    )
    truth = study.truth
    rng = np.random.default_rng(0)

    def negative_loglik(theta, counts):
        share, phi = special.expit(design @ theta[:3]), np.exp(theta[3])
        return -betabinom.logpmf(counts, N_JOINTS, share * phi, (1 - share) * phi).sum()

    for j, joint in enumerate(("tender", "swollen")):
        beta = np.array([truth["a_joint"][j], truth["b_joint_il6"][j], truth["b_joint_crp"][j]])
        phi = truth["phi_joint"][j]
        share = special.expit(design @ beta)
        estimates = np.empty(REPLICATES)
        for r in range(REPLICATES):
            counts = betabinom.rvs(N_JOINTS, share * phi, (1 - share) * phi, random_state=rng)
            fit = optimize.minimize(
                negative_loglik, np.r_[beta, np.log(phi)], args=(counts,), method="L-BFGS-B"
            )
            estimates[r] = np.exp(fit.x[3])
        sd = estimates.std(ddof=1)
        print(
            f"phi_joint[{joint}]: truth {phi}, MLE mean {estimates.mean():.3f}, SD {sd:.3f}, "
            f"bias {(estimates.mean() - phi) / sd:+.3f} SD "
            f"(standard error {1 / np.sqrt(REPLICATES):.3f})"
        )


if __name__ == "__main__":
    main()
