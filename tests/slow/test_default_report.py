"""The default config's report, as a new user opens it: answers first, maths, images, 5 MB."""

import pandas as pd
import pytest
import yaml
from helpers import CHROMIUM, ROOT, chromium_view, snakemake, workflow_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    folder = workflow_copy(tmp_path_factory.mktemp("default"), config)
    snakemake(folder)
    return folder


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_the_default_report_answers_first_renders_maths_loads_images_in_5_mb(default_run):
    page = default_run / "results/default/report.html"
    assert page.stat().st_size <= 5 * 2**20
    view = chromium_view(page)
    assert view["first"] == {"section": "answers", "heading": "Answers", "table": True}
    answers = view["text"][: view["text"].index("Contents")]
    for words in ("lowered DAS28-ESR by", "Each doubling of IL-6 goes with",
                  "probability of a EULAR good response"):  # fmt: skip
        assert words in answers
    assert view["maths"] >= 100 and view["unrendered_maths"] == 0
    assert "\\mathrm" not in view["text"]
    assert len(view["images"]) >= 50 and all(view["images"])
    for dataset in ("ra_trial", "healthy"):
        ids = pd.read_csv(default_run / f"results/simulated/{dataset}/subjects.csv")["USUBJID"]
        assert not [uid for uid in ids if uid in view["text"]]
