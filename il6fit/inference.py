"""Inference: fit a model family to a prepared dataset.

:func:`fit_model` is the orchestration a fit job runs: resolve the family's options and priors,
build the analysis table, sample once or escalate until the fit passes
the judge, and store the table and the resolved options in the fit. The rest lives in three
modules: :mod:`il6fit.sampling` (how a built model is sampled), :mod:`il6fit.escalation`
(refitting a failing fit) and :mod:`il6fit.storage` (what a saved fit holds, how it is written
and read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import pandas as pd
import xarray as xr

from il6fit.errors import SpecError
from il6fit.escalation import Escalation, sample_until_sound
from il6fit.loo import per_patient
from il6fit.models import ModelFamily, missing_parameters
from il6fit.models.family import options_dict
from il6fit.provenance import canonical_json
from il6fit.sampling import SamplerSettings, sample
from il6fit.storage import table_dataset

log = logging.getLogger(__name__)


def fit_model(
    family: ModelFamily,
    subjects: pd.DataFrame,
    measurements: pd.DataFrame,
    *,
    options: Mapping,
    settings: SamplerSettings,
    seed: int,
    judge: Callable[[xr.DataTree], list[str]] | None = None,
    escalation: Escalation | None = None,
    dosing: pd.DataFrame | None = None,
) -> tuple[xr.DataTree, pd.DataFrame]:
    """Fit a model family to a prepared dataset, refitting with more tuning if asked.

    With ``judge`` and ``escalation`` given, a fit the judge finds failing is refitted with the
    escalated settings (:meth:`Escalation.next_settings`) until it passes or
    ``escalation.max_attempts`` fits were made; the last fit is returned. Every attempt (its
    sampler settings, whether it passed and why not) is recorded in the root attribute
    ``il6fit_attempts`` (JSON text).

    Parameters
    ----------
    family : ModelFamily
        The model.
    subjects, measurements : pandas.DataFrame
        A prepared dataset.
    options : mapping
        The model's config options: ``priors`` (overrides) and the family's options.
    settings : SamplerSettings
        Sampler options.
    seed : int
        The job's seed.
    judge : callable, optional
        ``tree -> list of failed checks`` (empty when it passes), e.g.
        :func:`il6fit.diagnostics.sampler_failures` bound to a family and thresholds.
    escalation : Escalation, optional
        How to refit; without it (or without ``judge``) the model is fitted once.
    dosing : pandas.DataFrame, optional
        The dataset's dosing records, for a family that reads them
        (:attr:`~il6fit.models.family.ModelFamily.reads_dosing`).

    Returns
    -------
    tree : xarray.DataTree
        The fit; self-describing: its ``log_likelihood`` is one term per patient
        (:func:`il6fit.loo.per_patient`), its group ``analysis_table`` holds the table it was fitted
        to and its attribute ``il6fit_options`` the resolved options and priors
        (:func:`il6fit.storage.fitted_inputs` reads them back).
    table : pandas.DataFrame
        The analysis table the model was fitted to.

    Raises
    ------
    SpecError
        If the dataset lacks a parameter the model needs, or the options are invalid.
    """
    typed = family.make_options(options)
    missing = missing_parameters(family, measurements, typed)
    if missing:
        raise SpecError(
            f"model {family.name} needs {', '.join(family.required(typed))}; the dataset has "
            f"no {', '.join(missing)}. Remove the model from `models` or supply those results."
        )
    priors = family.priors(dict(options).get("priors"))
    table = family.table(subjects, measurements, typed, dosing=dosing)
    log.info("%s: %d rows in the analysis table", family.name, len(table))
    model = family.build(table, priors, typed)
    drawing = {"family": family, "generative": family.generative(table, priors, typed)}
    if judge is None or escalation is None or settings.method != "nuts":
        tree = sample(model, settings, seed, **drawing)
    else:
        tree, attempts = sample_until_sound(
            model, settings, seed, judge=judge, escalation=escalation, **drawing
        )
        tree.attrs["il6fit_attempts"] = canonical_json(attempts)
    if "log_likelihood" in tree.children:
        tree["log_likelihood"] = xr.DataTree(
            per_patient(tree["log_likelihood"].to_dataset(), table)
        )
    tree["analysis_table"] = xr.DataTree(table_dataset(table))
    tree.attrs["il6fit_options"] = canonical_json(
        {
            "options": options_dict(typed),
            # the priors the model has: a family's defaults name every parameter its options
            # can add (covariates), and the report lists what was fitted
            "priors": {
                name: {"dist": p.dist, **p.params}
                for name, p in priors.items()
                if name in model.named_vars
            },
        }
    )
    return tree, table
