"""Model families: the registry everything else reads.

A family is one module of this package that ends with ``FAMILY = ModelFamily(...)``
(:mod:`il6fit.models.family` says what it declares). Registering it is one line in
:data:`FAMILY_MODULES`; the config schema, the workflow's targets, calibration, recovery, the
report and the docs tables all read :data:`MODELS`. Use :func:`get_model` to look a family up by
the name used in the config.
"""

from __future__ import annotations

from importlib import import_module

from il6fit.errors import SpecError
from il6fit.models.family import ModelFamily, ParameterInfo, missing_parameters
from il6fit.models.priors import Prior, resolve_priors

#: The registered families: module names under ``il6fit.models``, each the family's config name.
FAMILY_MODULES = (
    "il6_crp",
    "disease_activity",
    "treatment_response",
    "eular_response",
    "mmrm",
    "binary_outcome",
    "exposure_response",
)

#: Every model family, by config name.
MODELS: dict[str, ModelFamily] = {
    name: import_module(f"{__name__}.{name}").FAMILY for name in FAMILY_MODULES
}


def get_model(name: str) -> ModelFamily:
    """Return the model family called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.

    Returns
    -------
    ModelFamily

    Raises
    ------
    SpecError
        If there is no such model; the message lists the valid names.
    """
    if name not in MODELS:
        raise SpecError(f"unknown model '{name}'; choose one of {', '.join(MODELS)}.")
    return MODELS[name]


__all__ = [
    "FAMILY_MODULES",
    "MODELS",
    "ModelFamily",
    "ParameterInfo",
    "Prior",
    "get_model",
    "missing_parameters",
    "resolve_priors",
]
