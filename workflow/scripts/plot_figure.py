import pandas as pd

from il6fit.data import read_prepared
from il6fit.inference import load
from il6fit.logs import log_to
from il6fit.models import get_model
from il6fit.plots import draw, save_figure

log_to(snakemake.log[0])

subjects, measurements = read_prepared(snakemake.input.subjects, snakemake.input.measurements)
family = get_model(snakemake.params.family)
table = family.table(subjects, measurements, snakemake.params.options)
figure = draw(
    snakemake.wildcards.figure,
    tree=load(snakemake.input.fit),
    summary=pd.read_csv(snakemake.input.summary),
    table=table,
    ci_prob=snakemake.params.ci_prob,
    family=family,
    options=snakemake.params.options,
)
save_figure(figure, snakemake.output.png.removesuffix(".png"))
