from pathlib import Path

import pandas as pd

from il6fit.data import read_prepared
from il6fit.inference import fit_metadata, load, rows_used
from il6fit.logs import log_to
from il6fit.models import get_model, resolve_priors
from il6fit.provenance import package_versions
from il6fit.report import DatasetSection, FitSection, build_report

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
        )
    )

fits = []
for (model, dataset), fit, summary, checks in zip(
    params.pairs, inputs.fits, inputs.summaries, inputs.checks, strict=True
):
    family = get_model(model)
    options = params.config["model_options"].get(model, {})
    tree = load(fit)
    folder = Path("results/figures", model, dataset)
    estimand_path = f"results/estimands/{model}/{dataset}.csv"
    figures = {
        Path(p).stem: Path(p).read_bytes() for p in inputs.figures if Path(p).parent == folder
    }
    fits.append(
        FitSection(
            model=model,
            dataset=dataset,
            title=family.title,
            equations=family.equations,
            # the priors of the parameters this fit has (e.g. nu only with Student-t residuals)
            priors={
                k: repr(v)
                for k, v in resolve_priors(
                    family.default_priors, options.get("priors"), model
                ).items()
                if k in tree["posterior"].data_vars
            },
            summary=pd.read_csv(summary),
            checks=pd.read_csv(checks),
            metadata=fit_metadata(tree),
            rows_used=rows_used(tree, family),
            figures=figures,
            estimands=pd.read_csv(estimand_path) if estimand_path in inputs.estimands else None,
        )
    )

html = build_report(
    title=params.title,
    datasets=datasets,
    fits=fits,
    config=params.config,
    versions=package_versions(),
)
Path(snakemake.output[0]).write_text(html, encoding="utf-8")
