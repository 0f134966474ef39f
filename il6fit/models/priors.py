"""Priors as plain values, turned into PyMC variables only when a model is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pymc as pm

from il6fit.errors import SpecError

#: Distributions a prior may use, with their parameters.
DISTRIBUTIONS: dict[str, tuple[type[pm.Distribution], tuple[str, ...]]] = {
    "Normal": (pm.Normal, ("mu", "sigma")),
    "StudentT": (pm.StudentT, ("nu", "mu", "sigma")),
    "HalfNormal": (pm.HalfNormal, ("sigma",)),
    "HalfStudentT": (pm.HalfStudentT, ("nu", "sigma")),
    "Exponential": (pm.Exponential, ("lam",)),
    "Gamma": (pm.Gamma, ("alpha", "beta")),
    "LogNormal": (pm.LogNormal, ("mu", "sigma")),
    "Beta": (pm.Beta, ("alpha", "beta")),
    # correlation matrices (a repeated-measures covariance): the model reads eta
    "LKJ": (pm.LKJCorr, ("eta",)),
    # deviations summing to zero (site effects), so that they leave the intercept alone
    "ZeroSumNormal": (pm.ZeroSumNormal, ("sigma",)),
}


@dataclass(frozen=True)
class Prior:
    """A prior distribution: a name from :data:`DISTRIBUTIONS` and its parameters.

    Examples
    --------
    >>> Prior("Normal", {"mu": 0.7, "sigma": 0.5})
    Normal(mu=0.7, sigma=0.5)
    """

    dist: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if self.dist not in DISTRIBUTIONS:
            raise SpecError(
                f"unknown prior distribution '{self.dist}'; choose one of "
                f"{', '.join(DISTRIBUTIONS)}."
            )
        wanted = DISTRIBUTIONS[self.dist][1]
        if set(self.params) != set(wanted):
            raise SpecError(
                f"{self.dist} prior needs parameters {', '.join(wanted)}; "
                f"got {', '.join(self.params) or 'none'}."
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={self.params[k]:g}" for k in DISTRIBUTIONS[self.dist][1])
        return f"{self.dist}({args})"

    def create(self, name: str, **kwargs) -> pm.Distribution:
        """Create the PyMC random variable inside the current model.

        Parameters
        ----------
        name : str
            Variable name.
        **kwargs
            Passed on to the PyMC distribution (``dims``, ...).

        Returns
        -------
        TensorVariable
            The random variable.
        """
        cls = DISTRIBUTIONS[self.dist][0]
        return cls(name, **dict(self.params), **kwargs)

    def unnamed(self, **kwargs) -> pm.Distribution:
        """Return the distribution outside any model (``.dist``), e.g. for ``sd_dist``.

        Parameters
        ----------
        **kwargs
            Passed on to the PyMC distribution (``shape``, ...).

        Returns
        -------
        TensorVariable
        """
        cls = DISTRIBUTIONS[self.dist][0]
        return cls.dist(**dict(self.params), **kwargs)

    @classmethod
    def from_config(cls, value: Mapping) -> Prior:
        """Build from a config mapping such as ``{dist: Normal, mu: 0, sigma: 1}``.

        Parameters
        ----------
        value : mapping
            ``dist`` plus the distribution's parameters.

        Returns
        -------
        Prior
        """
        params = {k: float(v) for k, v in value.items() if k != "dist"}
        if "dist" not in value:
            raise SpecError(f"prior {dict(value)} has no 'dist'.")
        return cls(str(value["dist"]), params)


def resolve_priors(
    defaults: Mapping[str, Prior], overrides: Mapping[str, Mapping] | None, model: str
) -> dict[str, Prior]:
    """Merge config overrides into a model's default priors.

    Parameters
    ----------
    defaults : mapping of str to Prior
        The model's default priors.
    overrides : mapping, optional
        From config: parameter name to ``{dist: ..., <params>}``.
    model : str
        Model name, for messages.

    Returns
    -------
    dict of str to Prior

    Raises
    ------
    SpecError
        For a parameter the model does not have or an invalid prior.
    """
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise SpecError(
            f"model {model} has no parameter {', '.join(unknown)}; priors can be set for "
            f"{', '.join(defaults)}."
        )
    return {**defaults, **{k: Prior.from_config(v) for k, v in overrides.items()}}
