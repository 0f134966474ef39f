"""Seeds, hashes and versions that make a result reproducible and traceable."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path

#: Packages whose versions are recorded with every result.
RECORDED_PACKAGES = (
    "il6fit",
    "pymc",
    "pytensor",
    "nutpie",
    "numba",
    "arviz-base",
    "arviz-stats",
    "numpy",
    "pandas",
    "xarray",
    "matplotlib",
)


def derive_seed(seed: int, rule: str, **wildcards: str) -> int:
    """Derive a job's seed from the global seed, the rule name and the job's wildcards.

    The result depends only on its arguments (not on job order, parallelism or machine),
    so a job gives the same result however the workflow is scheduled.

    Parameters
    ----------
    seed : int
        The global seed of the run.
    rule : str
        Name of the rule.
    **wildcards : str
        The job's wildcards; their order does not matter.

    Returns
    -------
    int
        A seed in ``[0, 2**32)``.
    """
    key = json.dumps([int(seed), rule, sorted(wildcards.items())])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        Hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_digest(config: Mapping) -> str:
    """Digest of a config's content, key order aside.

    As a rule parameter it reruns the job when any value changes, without putting the whole
    config in the job's parameters (and in Snakemake's messages about them).

    Parameters
    ----------
    config : mapping
        A config (JSON-serialisable values).

    Returns
    -------
    str
        Hex SHA-256 of the config as sorted JSON.

    Examples
    --------
    >>> config_digest({"a": 1, "b": [2]}) == config_digest({"b": [2], "a": 1})
    True
    """
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def input_hashes(paths: Iterable[str | Path]) -> dict[str, str]:
    """Map each path to the SHA-256 of its content.

    Parameters
    ----------
    paths : iterable of str or Path
        Input files.

    Returns
    -------
    dict of str to str
        Path (as given) to hex digest.
    """
    return {str(p): file_sha256(p) for p in paths}


def package_versions(names: Iterable[str] = RECORDED_PACKAGES) -> dict[str, str]:
    """Return the installed version of each package, and of Python itself.

    Parameters
    ----------
    names : iterable of str
        Distribution names.

    Returns
    -------
    dict of str to str
        Name to version; ``"not installed"`` for a missing distribution.
    """
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def canonical_json(value: Mapping | list) -> str:
    """Serialise to JSON with sorted keys, so equal content gives equal text.

    Parameters
    ----------
    value : mapping or list
        JSON-compatible data.

    Returns
    -------
    str
        The JSON text.
    """
    return json.dumps(value, sort_keys=True, default=str)
