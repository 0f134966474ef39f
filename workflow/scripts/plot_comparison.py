import pandas as pd

from il6fit.logs import log_to
from il6fit.plots import figure_style, loo_comparison, save_figure

log_to(snakemake.log[0])

with figure_style():
    save_figure(
        loo_comparison(pd.read_csv(snakemake.input.comparison)),
        snakemake.output.png.removesuffix(".png"),
    )
