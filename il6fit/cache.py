"""Compile caches of fit jobs: one per job, started from what earlier jobs compiled.

Each fit job compiles into its own folder (parallel jobs never write to one numba cache, which
has no lock). A job whose folder is new starts from a copy of the compiled kernels of the other
jobs, those of the same model first, so a model fitted before on other data, of another size,
reloads every kernel that does not depend on the data instead of compiling it again, and a new
model reloads the kernels it shares with the others; the same goes for the rewritten graphs
(:mod:`il6fit.graphs`), which spare a refit PyTensor's rewriting. What a cache holds never
changes a result:
models are compiled without fast-math (:data:`il6fit.sampling.COMPILE_FLAGS`), so a kernel loaded
from a cache computes exactly what the same kernel compiled afresh does. This module must not
import PyTensor; the copy has to be made before the fit compiles anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: What a job's compile cache holds that other jobs reuse: numba's kernels and the rewritten
#: graphs of :mod:`il6fit.graphs` (its ``FOLDER``).
FOLDERS = ("numba", "graphs")


def seed_compile_cache(path: str | Path) -> int:
    """Fill a new job's compile cache with copies of the other caches' kernels and graphs.

    Parameters
    ----------
    path : str or Path
        The job's cache folder, ``<cache>/<model>/<dataset>``; the other datasets' caches of the
        same model are copied first, then those of the other models (``<cache>/*/*``). Each of
        :data:`FOLDERS` is filled only if it is empty.

    Returns
    -------
    int
        Number of files copied.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "m" / "a" / "numba").mkdir(parents=True)
    >>> _ = (root / "m" / "a" / "numba" / "k.nbi").write_text("index")
    >>> (root / "m" / "a" / "graphs").mkdir()
    >>> _ = (root / "m" / "a" / "graphs" / "g.pkl").write_text("graph")
    >>> seed_compile_cache(root / "m" / "b")
    2
    >>> seed_compile_cache(root / "m" / "b")
    0
    >>> seed_compile_cache(root / "other" / "a")
    2
    """
    path = Path(path)
    copied = 0
    for folder in FOLDERS:
        target = path / folder
        if target.is_dir() and any(target.iterdir()):
            continue
        target.mkdir(parents=True, exist_ok=True)
        siblings = sorted(p for p in path.parent.iterdir() if p != path and (p / folder).is_dir())
        others = sorted(
            p
            for p in path.parent.parent.glob("*/*")
            if p.parent != path.parent and (p / folder).is_dir()
        )
        for sibling in siblings + others:
            # index files (.nbi) last: an index copied without its data is a miss, never an error
            files = sorted((sibling / folder).iterdir(), key=lambda f: f.suffix == ".nbi")
            for source in files:
                destination = target / source.name
                if source.is_file() and source.suffix != ".tmp" and not destination.exists():
                    shutil.copy2(source, destination)
                    copied += 1
    return copied
