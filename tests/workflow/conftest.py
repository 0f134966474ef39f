"""The tiny run the workflow tests share, built once per session in a temporary folder, and the
order of the workflow tests."""

import pytest


def pytest_collection_modifyitems(items):
    """Put the calibration tests last: their run, started niced at the session's first test
    (tests/conftest.py: ``workflow_runs``), has until then to use the core the others leave."""
    items.sort(key=lambda item: "calibrated" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def run(workflow_runs):
    """The folder of the tiny run, run to the end (the default target).

    Started in the background at the session's first test (tests/conftest.py).
    """
    folder, started = workflow_runs["run"]
    started.wait()
    return folder
