import pytest
from helpers import SUBJECTS_HEADER


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
