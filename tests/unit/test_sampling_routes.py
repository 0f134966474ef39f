"""How nutpie is given a model: PyTensor's numba functions called back through Python for a fit
sampled once on one core (nothing to compile with a warm cache), nutpie's compiled callbacks
where a compiled model serves many datasets or chains run in parallel. Both give the same draws
(tests/slow/test_sampling_routes_draws.py); here nothing is sampled."""

import numpy as np
import nutpie
import pymc as pm
import pytensor
import pytest

import il6fit.sampling
from il6fit.sampling import (
    COMPILE_FLAGS,
    CompiledModel,
    SamplerSettings,
    compile_python_callbacks,
    sample_posterior,
)


def small_model():
    with pm.Model(coords={"unit": range(3)}) as model:
        y = pm.Data("y", np.array([0.5, -1.0, 2.0]), dims="unit")
        mu = pm.Normal("mu", 0, 2)
        sigma = pm.HalfNormal("sigma", 1)
        pm.Deterministic("scaled", mu / sigma)
        pm.Normal("obs", mu, sigma, observed=y, dims="unit")
    return model


def test_python_callbacks_give_pymcs_log_density_gradient_and_draws():
    model = small_model()
    with model, pytensor.config.change_flags(**COMPILE_FLAGS):
        compiled = compile_python_callbacks(model)
    assert compiled.n_dim == 2
    point = np.array([0.3, np.log(1.7)])  # mu, sigma on its log scale
    logp, grad = compiled._make_logp_func()(point.copy())
    values = {"mu": point[0], "sigma_log__": point[1]}
    assert float(logp) == pytest.approx(float(model.compile_logp()(values)), rel=1e-12)
    np.testing.assert_allclose(grad, model.compile_dlogp()(values), rtol=1e-12)
    drawn = compiled._make_expand_func(1, 2, 0)(point.copy())
    assert drawn["mu"] == pytest.approx(0.3)
    assert drawn["sigma"] == pytest.approx(1.7)
    assert drawn["scaled"] == pytest.approx(0.3 / 1.7)


@pytest.mark.parametrize(
    ("cores", "reuse", "route"),
    [(1, False, "python"), (2, False, "compiled"), (1, True, "compiled")],
)
def test_a_fit_sampled_once_on_one_core_calls_back_through_python(monkeypatch, cores, reuse, route):
    seen = []

    def stop(*args, **kwargs):
        raise RuntimeError("stop before sampling")

    monkeypatch.setattr(
        il6fit.sampling, "compile_python_callbacks", lambda m: seen.append("python")
    )
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda m, **k: seen.append("compiled"))
    monkeypatch.setattr(nutpie, "sample", stop)
    settings = SamplerSettings(chains=2, draws=10, tune=10, cores=cores)
    with pytest.raises(RuntimeError, match="stop before sampling"):
        sample_posterior(small_model(), settings, seed=1, reuse=CompiledModel() if reuse else None)
    assert seen == [route]
