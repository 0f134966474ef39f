"""Escalation: refit a model whose fit fails the sampler checks, with more careful settings.

Under the ``escalate`` policy a fit the judge finds failing is sampled again with more tuning
steps and a target acceptance rate closer to 1 (:class:`Escalation`), until it passes or the
attempts run out (:func:`sample_until_sound`), each attempt recorded. Sampling itself is
:func:`il6fit.sampling.sample`; the judge is the caller's (e.g.
:func:`il6fit.diagnostics.sampler_failures`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import pymc as pm
import xarray as xr

from il6fit.errors import SpecError
from il6fit.sampling import SamplerSettings, sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Escalation:
    """How a fit that fails the gate is refitted under the ``escalate`` policy.

    Each further attempt multiplies the tuning steps by ``tune_factor`` and halves the distance
    of the target acceptance rate to 1 (0.95, 0.975, 0.9875, ...), capped at
    ``target_accept_max``: smaller steps and longer adaptation are what a posterior with
    difficult geometry needs.

    Attributes
    ----------
    max_attempts : int
        Fits in all, the first included.
    tune_factor : float
        Factor on the tuning steps per attempt.
    target_accept_max : float
        Highest target acceptance rate used.
    """

    max_attempts: int = 3
    tune_factor: float = 2.0
    target_accept_max: float = 0.995

    def __post_init__(self):
        if self.max_attempts < 1 or self.tune_factor < 1 or not 0 < self.target_accept_max < 1:
            raise SpecError(
                "diagnostics.escalation needs max_attempts >= 1, tune_factor >= 1 and "
                f"0 < target_accept_max < 1; got {self}."
            )

    def next_settings(self, settings: SamplerSettings) -> SamplerSettings:
        """Return the settings of the attempt after one made with ``settings``.

        Parameters
        ----------
        settings : SamplerSettings
            The settings of the failed attempt.

        Returns
        -------
        SamplerSettings

        Examples
        --------
        >>> s = Escalation().next_settings(SamplerSettings(tune=1000, target_accept=0.95))
        >>> s.tune, s.target_accept
        (2000, 0.975)
        """
        accept = min(self.target_accept_max, 1 - (1 - settings.target_accept) / 2)
        return replace(
            settings,
            tune=math.ceil(settings.tune * self.tune_factor),
            target_accept=round(max(accept, settings.target_accept), 6),
        )


def sample_until_sound(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    *,
    judge: Callable[[xr.DataTree], list[str]],
    escalation: Escalation,
    **drawing,
) -> tuple[xr.DataTree, list[dict]]:
    """Sample, judge, and resample with escalated settings until the fit passes.

    Parameters
    ----------
    model : pymc.Model
        The model.
    settings : SamplerSettings
        Settings of the first attempt.
    seed : int
        Seed of every attempt (the settings differ, so the draws do too).
    judge : callable
        ``tree -> list of failed checks``.
    escalation : Escalation
        How settings change between attempts and how many attempts are made.
    **drawing
        ``family`` and ``generative``, passed on to :func:`il6fit.sampling.sample`.

    Returns
    -------
    tree : xarray.DataTree
        The last attempt's fit: the first that passed, or the last allowed.
    attempts : list of dict
        Per attempt: ``attempt`` (from 1), ``tune``, ``draws``, ``target_accept``, ``passed``,
        ``failures`` (descriptions of the failed checks).
    """
    attempts = []
    for attempt in range(1, escalation.max_attempts + 1):
        tree = sample(model, settings, seed, **drawing)
        failures = judge(tree)
        attempts.append(
            {
                "attempt": attempt,
                "tune": settings.tune,
                "draws": settings.draws,
                "target_accept": settings.target_accept,
                "passed": not failures,
                "failures": failures,
            }
        )
        if not failures:
            log.info("attempt %d passed every sampler check", attempt)
            break
        log.warning("attempt %d failed: %s", attempt, "; ".join(failures))
        if attempt < escalation.max_attempts:
            settings = escalation.next_settings(settings)
            log.warning(
                "refitting with %d tuning steps and target acceptance %.4g",
                settings.tune,
                settings.target_accept,
            )
    else:
        log.warning("still failing after %d attempts: marked as failed", escalation.max_attempts)
    return tree, attempts
