"""The config resolver: raw config in, the settings of one fit out.

Defaults live in one place each: a family's options in its options class
(:mod:`il6fit.models`), the sampler's in :class:`il6fit.sampling.SamplerSettings`; the config
schema carries the same values (generated from the options classes, and checked against the
sampler's by a test). The merges are done here only: shared sampler settings, then the family's
overrides, then a variant's; a family's options, then a variant's (priors one by one). Nothing
here imports PyMC, so the workflow can call it at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def family_of(config: Mapping, model: str) -> str:
    """Return the model family of a model or variant name.

    Parameters
    ----------
    config : mapping
        The run's config (validated).
    model : str
        A family or a variant under ``variants``.

    Returns
    -------
    str
    """
    variants = config.get("variants", {})
    return variants[model]["model"] if model in variants else model


def model_options(config: Mapping, model: str) -> dict[str, Any]:
    """Return a model's or variant's options as config values.

    A variant's options override its family's, priors one by one.

    Parameters
    ----------
    config : mapping
        The run's config.
    model : str
        A family or a variant.

    Returns
    -------
    dict
        Options (``priors`` included, always present).

    Examples
    --------
    >>> config = {
    ...     "model_options": {"tr": {"score": "DAS28ESR", "priors": {"a": {"dist": "Normal"}}}},
    ...     "variants": {"v": {"model": "tr", "options": {"priors": {"b": {"dist": "Normal"}}}}},
    ... }
    >>> sorted(model_options(config, "v")["priors"])
    ['a', 'b']
    """
    family = family_of(config, model)
    options = dict(config.get("model_options", {}).get(family, {}))
    options.setdefault("priors", {})
    if model in config.get("variants", {}):
        extra = config["variants"][model].get("options", {})
        priors = {**options["priors"], **extra.get("priors", {})}
        options = {**options, **extra, "priors": priors}
    return options


def sampler_settings(config: Mapping, model: str) -> dict[str, Any]:
    """Return the sampler settings of one model's or variant's fits as config values.

    The shared ones, then its family's overrides, then a variant's own.

    Parameters
    ----------
    config : mapping
        The run's config.
    model : str
        A family or a variant.

    Returns
    -------
    dict
        Keyword arguments of :class:`il6fit.sampling.SamplerSettings`.
    """
    sampler = config.get("sampler", {})
    shared = {key: value for key, value in sampler.items() if key != "models"}
    overrides = sampler.get("models", {})
    return {
        **shared,
        **overrides.get(family_of(config, model), {}),
        **overrides.get(model, {}),
    }
