"""il6fit: reproducible Bayesian inference for IL-6 biology in clinical data.

Modules, imported in one direction only: ``data`` -> ``simulate`` -> ``models`` (the registry: one
module per family) -> ``sampling`` -> ``escalation``, ``storage`` -> ``inference`` (how a fit is
sampled, refitted, stored; then the orchestration) -> ``diagnostics`` -> ``sbc``, ``validation`` ->
``report``. ``plots`` holds figure primitives the families' own figures use, and ``ranks`` (rank
statistics of calibration) and ``history`` (the run record) are pure functions on tables;
``errors``, ``provenance``, ``logs``, ``cache`` and ``graphs`` are leaves that any module may
use, and so are ``settings`` (the config resolver) and ``catalogue`` (what the workflow reads of
the registry at start-up, without importing PyMC). The package never imports snakemake and its
models never read files.
"""

__version__ = "0.1.0"
