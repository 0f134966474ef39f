from pathlib import Path

import pandas as pd

from il6fit.logs import log_to
from il6fit.models.family import FigureInput
from il6fit.plots import figure_style, save_figure
from il6fit.storage import fitted_inputs, load

log_to(snakemake.log[0])

tree = load(
    snakemake.input.fit, model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset
)
family, options, table = fitted_inputs(tree)
fig = FigureInput(
    tree=tree,
    summary=pd.read_csv(snakemake.input.summary),
    table=table,
    options=options,
    ci_prob=snakemake.params.ci_prob,
    family=family,
)
folder = Path(snakemake.output.figures)
folder.mkdir(parents=True, exist_ok=True)
with figure_style():
    for name in snakemake.params.captions:
        save_figure(family.draw(name, fig), folder / name)
