"""Every treatment family through the workflow, on a trial il6fit did not simulate (slow).

The fast workflow test (tests/workflow/test_workflow.py) takes every rule with the fewest
fits; this run adds the families it leaves out (mmrm, eular_response) and DAS28-CRP, on a
trial without ESR from the tests' independent generator.
"""

import json

import independent_trial
import pandas as pd
import pytest
import xarray as xr
from helpers import snakemake, workflow_copy

pytestmark = [pytest.mark.slow, pytest.mark.workflow]

CONFIG = {
    "seed": 7,
    "title": "every treatment model",
    "datasets": {
        "trial": {
            "simulate": {"scenario": "ra_tcz_trial", "n_subjects": 60, "n_sites": 3},
            "models": ["eular_response"],
        },
        # a trial il6fit did not simulate, without ESR: every treatment model on DAS28-CRP
        "crp_only": {
            "subjects": "data/crp_only/subjects.csv",
            "measurements": "data/crp_only/measurements.csv",
            "models": ["mmrm", "treatment_response", "eular_response"],
        },
    },
    "models": ["eular_response"],
    "sampler": {"chains": 2, "draws": 200, "tune": 200},
    "diagnostics": {"thresholds": {"ess_bulk_min": 50, "ess_tail_min": 50}},
    "variants": {},
    "comparisons": {},
    # DAS28-CRP for every treatment model: the crp_only trial has no ESR
    "model_options": {
        name: {"score": "DAS28CRP"} for name in ("mmrm", "treatment_response", "eular_response")
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = workflow_copy(tmp_path_factory.mktemp("models"), CONFIG)
    subjects, measurements = independent_trial.trial(20, seed=3, esr=False)
    (folder / "data/crp_only").mkdir(parents=True)
    subjects.to_csv(folder / "data/crp_only/subjects.csv", index=False)
    measurements.to_csv(folder / "data/crp_only/measurements.csv", index=False)
    snakemake(folder)
    return folder


def test_eular_response_probabilities_estimands_and_figures(run):
    eular = pd.read_csv(run / "results/estimands/eular_response/trial.csv").set_index("parameter")
    good = eular.loc[[f"p_good[{arm}]" for arm in ("Placebo + MTX", "TCZ 8 mg/kg + MTX")]]
    assert good["mean"].between(0, 1).all()
    assert good["unit"].eq("probability").all()
    for figure in ("eular", "prior_ppc", "ppc"):
        assert (run / f"results/figures/eular_response/trial/{figure}.png").exists()


def test_a_trial_without_esr_fits_every_treatment_model_on_das28_crp(run):
    measurements = pd.read_csv(run / "results/prepared/crp_only/measurements.csv")
    assert "ESR" not in set(measurements["PARAMCD"])
    for model in ("mmrm", "treatment_response", "eular_response"):
        tree = xr.open_datatree(run / f"results/fits/{model}/crp_only.nc")
        assert json.loads(tree.attrs["il6fit_options"])["options"]["score"] == "DAS28CRP"
        estimands = pd.read_csv(run / f"results/estimands/{model}/crp_only.csv")
        assert len(estimands) > 0, model
    checks = pd.read_csv(run / "results/diagnostics/mmrm/crp_only.csv").set_index("check")
    assert "landmark change vs predictive" in checks.index
    report = (run / "results/every-treatment-model/report.html").read_text()
    section = report[report.index("<h3>crp_only: change in DAS28CRP") :]
    assert "Primary analysis: <b>mmrm</b>" in section[:2000]
    ids = pd.read_csv(run / "data/crp_only/subjects.csv")["USUBJID"]
    assert not [uid for uid in ids if uid in report]
