import pytest
from helpers import (
    CALIBRATION_RUN,
    SUBJECTS_HEADER,
    TINY,
    TOY,
    SnakemakeRun,
    workflow_copy,
)


@pytest.fixture(scope="session", autouse=True)
def workflow_runs(request, tmp_path_factory):
    """The Snakemake runs the selected workflow tests share, started at the session's first test.

    A dict of (folder, :class:`helpers.SnakemakeRun`) by the fixture that waits for the run
    (tests/workflow/). The unit tests, which come first, use one core; the tiny run (``run``)
    starts beside them on the other, its longest fit compiling for about a minute, and has both
    when they are done. The calibration run (``calibrated``) is niced: it takes the core left
    idle by the workflow tests, which run one snakemake at a time, and its own tests come last
    (tests/workflow/conftest.py).
    """
    needed = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    runs = {}
    if "run" in needed:
        folder = workflow_copy(tmp_path_factory.mktemp("run"), TINY, families=(TOY,))
        runs["run"] = folder, SnakemakeRun(folder)
    if "calibrated" in needed:
        folder = tmp_path_factory.mktemp("calibrate")
        workflow_copy(folder, CALIBRATION_RUN, families=(TOY,))
        runs["calibrated"] = folder, SnakemakeRun(folder, "calibrate", niceness=19)
    yield runs
    for _, started in runs.values():
        started.stop()  # a session that ended before waiting for it


@pytest.fixture
def write_csv(tmp_path):
    """Write text lines to a CSV file in a temporary folder and return its path."""

    def write(name: str, lines: list[str]) -> str:
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def subjects_csv(write_csv):
    return write_csv(
        "subjects.csv",
        [
            SUBJECTS_HEADER,
            "S-1,ST,01,Placebo,50,F,27",
            "S-2,ST,01,TCZ 8,61,M,31.5",
            "S-3,ST,02,TCZ 8,44,F,22",
        ],
    )


@pytest.fixture
def fast_compile(monkeypatch):
    """Compile PyTensor functions with FAST_COMPILE (Python linker, few rewrites), not numba.

    For tests whose code under test compiles (forward draws, log densities): numba's compile
    time is paid by fits, not by unit tests.
    """
    import pytensor

    monkeypatch.setattr(pytensor.config, "mode", "FAST_COMPILE")
