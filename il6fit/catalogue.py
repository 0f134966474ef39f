"""What the workflow must know of each model before any model is built: names and outputs.

The workflow reads this at every start, a rerun with nothing to do included, so it imports
nothing beyond :mod:`il6fit.errors` (importing the model families means importing PyMC,
about 2 s). The families take their figure lists from here; ``tests/unit/test_models.py``
keeps the rest equal to :data:`il6fit.models.MODELS`.
"""

from __future__ import annotations

from il6fit.errors import SpecError

#: Report figures drawn for every fit of a model family, by config name (plot names of
#: :func:`il6fit.plots.draw`).
MODEL_FIGURES: dict[str, tuple[str, ...]] = {
    "il6_crp": ("relation", "forest", "ranks", "prior_ppc", "ppc"),
    "disease_activity": ("forest", "ranks", "prior_ppc", "ppc"),
    "treatment_response": ("course", "effect", "forest", "ranks", "prior_ppc", "ppc"),
    "eular_response": ("eular", "forest", "ranks", "prior_ppc", "ppc"),
}

#: Model families with clinical estimands (a ``results/estimands/`` table per fit).
WITH_ESTIMANDS = frozenset({"treatment_response", "eular_response"})

#: Figures drawn for every fit of every model.
COMMON_FIGURES = ("trace",)

#: Every model family's config name.
MODEL_NAMES = tuple(MODEL_FIGURES)


def check_model_name(name: str) -> str:
    """Return ``name`` if it names a model family.

    Parameters
    ----------
    name : str
        A model name from the config.

    Returns
    -------
    str
        The same name.

    Raises
    ------
    SpecError
        If there is no such model; the message lists the valid names (as
        :func:`il6fit.models.get_model` does).
    """
    if name not in MODEL_FIGURES:
        raise SpecError(f"unknown model '{name}'; choose one of {', '.join(MODEL_NAMES)}.")
    return name
