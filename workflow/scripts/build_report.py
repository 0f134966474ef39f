import json
import shutil
from pathlib import Path

import pandas as pd

from il6fit.data import read_prepared
from il6fit.history import record
from il6fit.logs import log_to
from il6fit.models import Prior
from il6fit.models.arms import arm_order
from il6fit.models.landmark import completer_change
from il6fit.provenance import package_versions
from il6fit.report import (
    CalibrationSection,
    ComparisonSection,
    DatasetSection,
    FitSection,
    build_report,
    missing_covariates,
)
from il6fit.storage import fit_metadata, fitted_inputs, load, rows_used

log_to(snakemake.log[0])

inputs = snakemake.input
params = snakemake.params
datasets = []
for name, subjects_path, measurements_path, ledger_path in zip(
    params.datasets, inputs.subjects, inputs.measurements, inputs.ledgers, strict=True
):
    subjects, measurements = read_prepared(subjects_path, measurements_path)
    datasets.append(
        DatasetSection(
            name=name,
            source=params.datasets[name],
            subjects=len(subjects),
            ledger=pd.read_csv(ledger_path, keep_default_na=False),
            measurements=measurements,
            missing_covariates=missing_covariates(subjects),
        )
    )

fits = []
for (model, dataset), fit, summary, checks, sensitivity, folder in zip(
    params.pairs,
    inputs.fits,
    inputs.summaries,
    inputs.checks,
    inputs.sensitivity,
    inputs.figures,
    strict=True,
):
    tree = load(fit, model=model, dataset=dataset)
    family, options, table = fitted_inputs(tree)
    metadata = fit_metadata(tree)
    estimand_path = f"results/estimands/{model}/{dataset}.csv"
    # the fit's figures, in report order (the captions are by figure, in that order)
    figures = {name: Path(folder, f"{name}.png").read_bytes() for name in params.captions[model]}
    fits.append(
        FitSection(
            model=model,
            dataset=dataset,
            title=family.title,
            equations=family.equations,
            # the priors of the parameters this fit has (e.g. nu only with Student-t residuals)
            priors={
                k: repr(Prior.from_config(v))
                for k, v in metadata["options"]["priors"].items()
                if k in tree["posterior"].data_vars
            },
            summary=pd.read_csv(summary),
            checks=pd.read_csv(checks),
            metadata=metadata,
            rows_used=rows_used(tree, family),
            figures=figures,
            captions=params.captions[model],
            estimands=pd.read_csv(estimand_path) if estimand_path in inputs.estimands else None,
            sensitivity=pd.read_csv(sensitivity),
            observed_change=None
            if family.landmark is None
            else completer_change(
                family.landmark.observed(table, options), list(tree["posterior"]["arm"].values)
            ),
            headlines=family.headlines,
            options=options,
            control=arm_order(table)[0] if {"arm", "dose"} <= set(table.columns) else None,
        )
    )

comparisons = [
    ComparisonSection(
        name=name,
        dataset=params.comparisons[name]["dataset"],
        table=pd.read_csv(table),
        figure=Path(figure).read_bytes(),
    )
    for name, table, figure in zip(
        params.comparisons, inputs.comparisons, inputs.comparison_figures, strict=True
    )
]


def calibration_name(path):
    """E.g. results/calibration/il6_crp/coverage.csv -> il6_crp: coverage."""
    relative = Path(path).relative_to("results/calibration").with_suffix("")
    return ": ".join(relative.parts)


calibration = CalibrationSection(
    tables={calibration_name(p): pd.read_csv(p) for p in inputs.calibration if p.endswith(".csv")},
    figures={
        calibration_name(p): Path(p).read_bytes() for p in inputs.calibration if p.endswith(".png")
    },
)

history = Path(params.history)
previous = json.loads(history.read_text()) if history.exists() else None
versions = package_versions()
html = build_report(
    title=params.title,
    datasets=datasets,
    fits=fits,
    config=snakemake.config,
    versions=versions,
    comparisons=comparisons,
    calibration=calibration,
    previous=previous,
)
Path(snakemake.output.html).write_text(html, encoding="utf-8")
Path(snakemake.output.record).write_text(
    json.dumps(record(fits=fits, config=snakemake.config, versions=versions), indent=1)
)
history.parent.mkdir(parents=True, exist_ok=True)
shutil.copyfile(snakemake.output.record, history)
