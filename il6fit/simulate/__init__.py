"""Simulated clinical-style cohorts in the data contract, with the truth that generated them.

Scenarios (:data:`SCENARIOS`): ``ra_tcz_trial`` (an OPTION-like randomised trial of placebo + MTX
and tocilizumab 4 and 8 mg/kg), ``ra_cohort`` (an observational RA cohort), ``healthy``
(controls) and ``covid`` (hospitalised COVID-19 with in-hospital death). The model is written out
in :mod:`il6fit.simulate.cohort` and :mod:`il6fit.simulate.pkpd`; sources of every default in
:mod:`il6fit.simulate.scenarios`; the check against published values in
:mod:`il6fit.simulate.published` and ``docs/simulator.md``.
"""

from il6fit.simulate.cohort import simulate_cohort
from il6fit.simulate.scenarios import SCENARIOS, Arm, Scenario, scenario

__all__ = ["SCENARIOS", "Arm", "Scenario", "scenario", "simulate_cohort"]
