"""Unit tests run no MCMC: NUTS (nutpie or PyMC) and more than a handful of ADVI steps fail
the test. Stand in for sampling (``helpers.prior_posterior``,
``helpers.fast_fits``) or put the test in tests/slow/."""

import sys

import pytest

#: Most ADVI steps a unit test may take (a preview's plumbing needs a few, not a fit).
ADVI_STEPS = 20


def _refuse(what: str):
    def refuse(*args, **kwargs):
        pytest.fail(
            f"a unit test ran {what}: stand in for it (tests/helpers.py) or move the test to "
            "tests/slow/"
        )

    return refuse


@pytest.fixture(autouse=True)
def no_mcmc(monkeypatch):
    """Refuse sampling in nutpie (imported only where a fit samples, so imported here) and, once
    the session has imported it, in PyMC."""
    import nutpie

    monkeypatch.setattr(nutpie, "compile_pymc_model", _refuse("nutpie"))
    monkeypatch.setattr(nutpie, "sample", _refuse("nutpie"))
    if "pymc" in sys.modules:
        pymc = sys.modules["pymc"]
        monkeypatch.setattr(pymc, "sample", _refuse("pymc.sample (NUTS)"))
        fit = pymc.fit

        def few_steps(n=10000, *args, **kwargs):
            if n > ADVI_STEPS:
                pytest.fail(f"a unit test ran {n} ADVI steps (at most {ADVI_STEPS})")
            return fit(n, *args, **kwargs)

        monkeypatch.setattr(pymc, "fit", few_steps)
