import pandas as pd

from il6fit.logs import log_to
from il6fit.plots import figure_style, save_figure, sbc_ecdf, sbc_rank_histograms
from il6fit.ranks import summarise_ranks

log_to(snakemake.log[0])

ranks = pd.concat([pd.read_csv(path) for path in snakemake.input], ignore_index=True)
ranks.to_csv(snakemake.output.ranks, index=False)
coverage = summarise_ranks(ranks, band_prob=snakemake.params.band_prob)
failed_gate = ranks.groupby("replicate")["gate_passed"].first().eq(False)
coverage["replicates_failing_gate"] = int(failed_gate.sum())
coverage.to_csv(snakemake.output.coverage, index=False)
with figure_style():
    save_figure(sbc_ecdf(ranks, band_prob=snakemake.params.band_prob), snakemake.output.ecdf[:-4])
    save_figure(sbc_rank_histograms(ranks), snakemake.output.hist[:-4])
