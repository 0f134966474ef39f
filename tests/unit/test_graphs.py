"""Rewritten graphs kept between fit jobs (il6fit.graphs): one key for a model on any data, a
stored graph that holds no data, and a loaded graph that computes what a fresh compile does."""

import pickle

import numpy as np
import pymc as pm
import pytensor
import pytest
from pytensor.compile.sharedvalue import SharedVariable

import il6fit.graphs
from il6fit.graphs import Uncacheable, structure_key
from il6fit.sampling import COMPILE_FLAGS, compile_python_callbacks


def model_of(y, prior_sd=2.0):
    with pm.Model(coords={"unit": range(len(y))}) as model:
        data = pm.Data("y", np.asarray(y, dtype=float), dims="unit")
        mu = pm.Normal("mu", 0, prior_sd)
        sigma = pm.HalfNormal("sigma", 1)
        pm.Normal("obs", mu, sigma, observed=data, dims="unit")
    return model


def key_of(model):
    return structure_key(model.value_vars, [model.logp()])


def test_the_key_is_the_structure_not_the_data():
    key, names = key_of(model_of([0.5, -1.0, 2.0]))
    assert key_of(model_of([3.0, 1.0, 0.0, 2.0, -4.0]))[0] == key  # other values, other size
    assert key_of(model_of([0.5, -1.0, 2.0], prior_sd=3.0))[0] != key  # a constant differs
    assert "y" in names


def test_a_graph_with_a_random_generator_is_not_kept():
    with pm.Model():
        mu = pm.Normal("mu")  # its draw reads a shared generator
    with pytest.raises(Uncacheable):
        structure_key([], [mu])


def test_a_stored_graph_computes_what_a_fresh_compile_does_on_other_data(tmp_path, monkeypatch):
    folder = tmp_path / "graphs"
    monkeypatch.setattr(il6fit.graphs, "_folder", lambda: folder)
    compiled = []
    compile_pymc = pm.pytensorf.compile
    monkeypatch.setattr(
        pm.pytensorf, "compile", lambda *a, **k: compiled.append(1) or compile_pymc(*a, **k)
    )
    first, other = model_of([0.5, -1.0, 2.0]), model_of([3.0, 1.0, 0.0, 2.0, -4.0])
    with pytensor.config.change_flags(**COMPILE_FLAGS):
        compile_python_callbacks(first)  # compiles and stores its two graphs
        stored = sorted(folder.glob("*.pkl"))
        loaded = compile_python_callbacks(other)
        assert len(compiled) == 2  # the other data's graphs were loaded, not compiled
        for path in stored:
            path.write_bytes(b"torn")
        compile_python_callbacks(other)  # an unreadable graph is compiled again, and replaced
        assert len(compiled) == 4
        monkeypatch.setattr(il6fit.graphs, "_folder", lambda: tmp_path / "empty")
        fresh = compile_python_callbacks(other)
    assert len(stored) == 2
    for path in stored:  # stored again, without data: every shared variable is emptied
        fgraph, _ = pickle.loads(path.read_bytes())
        data = [v for v in fgraph.inputs if isinstance(v, SharedVariable)]
        assert all(v.get_value(borrow=True).size == 0 for v in data)
    point = np.array([0.3, np.log(1.7)])
    logp, grad = loaded._make_logp_func()(point.copy())
    logp_fresh, grad_fresh = fresh._make_logp_func()(point.copy())
    assert float(logp) == float(logp_fresh)  # the other data's, bit for bit
    np.testing.assert_array_equal(grad, grad_fresh)
    assert float(logp) == pytest.approx(
        float(other.compile_logp()({"mu": 0.3, "sigma_log__": point[1]}))
    )
    drawn = loaded._make_expand_func(1, 2, 0)(point.copy())
    assert drawn["sigma"] == pytest.approx(1.7)
