"""Model families. Each module builds a ``pm.Model`` from an in-memory table and priors.

Use :func:`get_model` to look a family up by the name used in the config.
"""

from __future__ import annotations

from il6fit.catalogue import check_model_name
from il6fit.models import disease_activity, eular_response, il6_crp, treatment_response
from il6fit.models.family import ModelFamily, ParameterInfo, missing_parameters
from il6fit.models.priors import Prior, resolve_priors

#: Every model family, by config name.
MODELS: dict[str, ModelFamily] = {
    m.name: m
    for m in (
        il6_crp.FAMILY,
        disease_activity.FAMILY,
        treatment_response.FAMILY,
        eular_response.FAMILY,
    )
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
    return MODELS[check_model_name(name)]


__all__ = [
    "MODELS",
    "ModelFamily",
    "ParameterInfo",
    "Prior",
    "get_model",
    "missing_parameters",
    "resolve_priors",
]
