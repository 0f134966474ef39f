"""il6fit: reproducible Bayesian inference for IL-6 biology in clinical data.

Modules, imported in one direction only: ``data`` -> ``simulate`` -> ``models`` -> ``inference``
-> ``diagnostics`` -> ``plots`` -> ``report``. ``errors``, ``provenance``, ``logs`` and ``cache``
are leaves that any module may use, and so is ``catalogue`` (model names and outputs, for the
workflow's start-up). The package never imports snakemake and its models never
read files.
"""

__version__ = "0.1.0"
