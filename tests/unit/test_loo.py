"""Leave-one-patient-out fallbacks, with known draws in place of sampling (no MCMC).

Draws near the model's initial point stand in for every posterior, the fit's and the
refits'; what is checked is what the fallbacks compute from the draws they are given.
"""

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy.special import logsumexp
from test_treatment_response import irregular_table

import il6fit.sampling
from il6fit.errors import SpecError
from il6fit.loo import VARIABLE, LooSettings, patient_loo, per_patient
from il6fit.models import get_model
from il6fit.models.family import options_dict
from il6fit.provenance import canonical_json
from il6fit.sampling import SamplerSettings, potential_log_likelihood
from il6fit.storage import table_dataset

SETTINGS = SamplerSettings(chains=2, draws=200)


# the stand-ins and the fallbacks' functions: compiled by PyTensor's Python linker, not numba
pytestmark = pytest.mark.usefixtures("fast_compile")


def stand_in_draws(model: pm.Model, settings: SamplerSettings, seed: int, **_) -> xr.DataTree:
    """Draws near the model's initial point, shaped as a posterior: a stand-in for sampling."""
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    outputs = [v for v in model.unobserved_value_vars if v.name in {r.name for r in model.free_RVs}]
    constrained = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    shape = (settings.chains, settings.draws)
    draws = [
        constrained({k: v + rng.normal(0, 0.05, np.shape(v)) for k, v in start.items()})
        for _ in range(np.prod(shape))
    ]
    posterior = xr.Dataset(
        {
            v.name: (
                ("chain", "draw", *model.named_vars_to_dims.get(v.name, ())),
                np.reshape([d[i] for d in draws], shape + np.shape(draws[0][i])),
            )
            for i, v in enumerate(outputs)
        },
        coords={"chain": np.arange(shape[0]), "draw": np.arange(shape[1])}
        | {dim: np.asarray(values) for dim, values in model.coords.items()},
    )
    return xr.DataTree.from_dict({"posterior": posterior})


def fit(table):
    """A treatment_response 'fit' to ``table`` made of stand-in draws, as fit_model stores it."""
    family = get_model("treatment_response")
    options = family.make_options({})
    priors = family.priors(None)
    model = family.build(table, priors, options)
    tree = stand_in_draws(model, SETTINGS, seed=3)
    terms = potential_log_likelihood(tree, model, family.marginal.potentials)
    tree["log_likelihood"] = xr.DataTree(per_patient(terms, table))
    tree["analysis_table"] = xr.DataTree(table_dataset(table))
    tree.attrs |= {
        "il6fit_family": family.name,
        "il6fit_seed": 3,
        "il6fit_sampler": canonical_json(
            {"chains": SETTINGS.chains, "draws": SETTINGS.draws, "tune": SETTINGS.tune}
        ),
        "il6fit_options": canonical_json(
            {
                "options": options_dict(options),
                "priors": {name: {"dist": p.dist, **p.params} for name, p in priors.items()},
            }
        ),
    }
    return tree, model


def held_out_terms(refits, model, table) -> list[xr.DataArray]:
    """Each refit's per-patient terms at its draws, through PyMC's graph of the full model (not
    the fallback's own function): compiled once, the refits' draws side by side as chains."""
    draws = []
    for _, refit in refits:
        posterior = refit["posterior"].to_dataset()
        used = {d for v in posterior.data_vars.values() for d in v.dims}
        draws.append(posterior.drop_vars([c for c in posterior.coords if c not in used]))
    together = xr.concat(draws, dim="chain", join="exact")
    together = together.assign_coords(chain=np.arange(together.sizes["chain"]))
    potentials = get_model("treatment_response").marginal.potentials
    terms = potential_log_likelihood(
        xr.DataTree.from_dict({"posterior": together}), model, potentials
    )
    per = per_patient(terms, table)[VARIABLE]
    n = SETTINGS.chains
    return [per.isel(chain=slice(i * n, (i + 1) * n)) for i in range(len(refits))]


@pytest.fixture
def refits(monkeypatch):
    """Every refit's patients and draws, stand-in draws in place of sampling."""
    made = []

    def recording(model, settings, seed, **kwargs):
        refit = stand_in_draws(model, settings, seed)
        made.append((sorted(set(model.coords["subject"])), refit))
        return refit

    monkeypatch.setattr(il6fit.sampling, "sample_posterior", recording)
    return made


def test_refits_give_each_patient_the_exact_held_out_log_density(refits):
    table = irregular_table(n=6)
    tree, model = fit(table)
    # a limit below every k: every patient is refitted
    loo = patient_loo(tree, -np.inf, LooSettings(fallbacks=("refit",), max_refits=6))
    assert loo.method == "psis + 6 exact refits"
    assert np.all(loo.pareto_k == 0)  # refitted: exact, no importance sampling
    patients = sorted(table["USUBJID"].unique())
    for (kept, _), terms in zip(refits, held_out_terms(refits, model, table), strict=True):
        (left_out,) = set(patients) - set(kept)
        # the held-out patient's term at the refit's draws
        values = terms.sel(patient=left_out).values.ravel()
        expected = logsumexp(values) - np.log(values.size)
        assert float(loo.elpd.elpd_i.sel(patient=left_out)) == pytest.approx(expected, rel=1e-9)
    assert float(loo.elpd.elpd) == pytest.approx(float(loo.elpd.elpd_i.sum()))


def test_k_fold_by_patient_takes_over_when_too_many_patients_need_refits(refits):
    table = irregular_table(n=6)
    tree, model = fit(table)
    settings = LooSettings(fallbacks=("refit", "kfold"), max_refits=2, folds=2)
    loo = patient_loo(tree, -np.inf, settings)
    assert loo.method == "psis (6 refits needed, not made) -> 2-fold by patient"
    assert len(refits) == 2 and np.all(loo.pareto_k == 0)
    patients = sorted(table["USUBJID"].unique())
    for (kept, _), terms in zip(refits, held_out_terms(refits, model, table), strict=True):
        left_out = sorted(set(patients) - set(kept))
        assert len(left_out) == 3  # patients dealt out to the folds in turn
        for patient in left_out:
            values = terms.sel(patient=patient).values.ravel()
            expected = logsumexp(values) - np.log(values.size)
            assert float(loo.elpd.elpd_i.sel(patient=patient)) == pytest.approx(expected)


def test_too_many_unreliable_patients_are_not_refitted_and_say_so(monkeypatch):
    tree, _ = fit(irregular_table(n=6))
    monkeypatch.setattr(il6fit.sampling, "sample_posterior", pytest.fail)
    loo = patient_loo(tree, -np.inf, LooSettings(fallbacks=("refit",), max_refits=2))
    assert loo.method == "psis (6 refits needed, not made)"
    assert loo.unreliable == 6


def test_a_fit_whose_refit_lacks_its_parameters_is_not_refitted_and_says_so(monkeypatch):
    table = irregular_table(n=6)
    # a one-patient arm: without that patient the refit has no effect for the arm
    table = table.copy()
    alone = table["USUBJID"] == "S00"
    table.loc[alone, ["arm", "dose"]] = ["TCZ 2", 2.0]
    tree, _ = fit(table)
    monkeypatch.setattr(il6fit.sampling, "sample_posterior", stand_in_draws)
    loo = patient_loo(tree, -np.inf, LooSettings(fallbacks=("refit",)))
    assert loo.method.startswith("psis (exact refits not possible:")
    assert loo.unreliable == 6


def test_unknown_fallbacks_are_a_clear_error():
    with pytest.raises(SpecError, match="moment_match, refit"):
        LooSettings(fallbacks=("waic",))
