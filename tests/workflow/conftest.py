"""The tiny run the workflow tests share: built once per session, in a temporary folder."""

import pytest
from helpers import TINY, TOY, snakemake, workflow_copy


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """The folder of the tiny run, run to the end (the default target)."""
    folder = workflow_copy(tmp_path_factory.mktemp("run"), TINY, families=(TOY,))
    snakemake(folder)
    return folder
