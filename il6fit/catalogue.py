"""What the workflow knows of the model families, read from the registry, and the code digests.

The workflow reads :func:`cached` at every start, a rerun with nothing to do included.
Describing the families means importing them, and so PyMC (about 3 s), so the description is
kept in a cache keyed by a digest of the package's source: it is made again only when some
source file changed. Nothing here imports PyMC at module level.

:func:`code_files` and :func:`code_digest` say which code a job runs: a script and the il6fit
modules it imports, directly or not, found by reading their import statements. A job whose
digest is a rule parameter reruns when, and only when, that code changes.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

#: The package's folder.
ROOT = Path(__file__).resolve().parent

#: The registry module: importing it imports every family, so a job's code is never said to
#: depend on it (a job depends on its own family's module, named explicitly).
REGISTRY = "il6fit.models"

#: Files a module reads at run time (not imports), counted in the code of a job running it:
#: the report's templates.
MODULE_DATA = {"il6fit.report": "templates"}


def source_digest(root: Path = ROOT) -> str:
    """Digest of every Python source file of the package (paths and contents).

    Parameters
    ----------
    root : Path
        The package's folder.

    Returns
    -------
    str
        Hex SHA-256.
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def describe() -> dict:
    """Describe every registered family as the workflow needs it (imports the families).

    Returns
    -------
    dict
        ``families``: by name, ``module``, ``figures`` (in report order), ``captions``,
        ``estimands`` (whether it has any), ``calibration`` (its default design, or None),
        ``options`` (the JSON Schema of its ``model_options`` block), ``subject_columns``
        (:attr:`il6fit.models.family.ModelFamily.subject_columns`), ``compile_seconds``
        (:attr:`il6fit.models.family.ModelFamily.compile_seconds`) and ``dosing`` (whether it
        reads dosing records, :attr:`il6fit.models.family.ModelFamily.reads_dosing`).
    """
    from il6fit.models import MODELS
    from il6fit.models.family import options_schema

    return {
        "families": {
            name: {
                "module": f"{REGISTRY}.{name}",
                "figures": list(family.all_figures),
                "captions": family.captions(),
                "estimands": family.estimands is not None,
                "calibration": dict(family.calibration.design) if family.calibration else None,
                "options": options_schema(family.options),
                "subject_columns": {k: dict(v) for k, v in family.subject_columns.items()},
                "compile_seconds": family.compile_seconds,
                "dosing": family.reads_dosing,
            }
            for name, family in MODELS.items()
        }
    }


def import_graph(root: Path = ROOT) -> dict[str, list[str]]:
    """Return the package modules each module of the package imports, by module name.

    What :func:`code_files` follows, read once per version of the source (:func:`cached`
    keeps it): parsing every module takes most of a second, at every workflow start.

    Parameters
    ----------
    root : Path
        The package's folder.

    Returns
    -------
    dict of str to list of str
    """
    graph = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        graph[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = sorted(
            _imported(path, root)
        )
    return graph


def cached(folder: str | Path, root: Path = ROOT) -> dict:
    """:func:`describe`, from a cache in ``folder`` while the package's source is unchanged.

    Parameters
    ----------
    folder : str or Path
        Cache folder (the workflow's ``.snakemake/il6fit``).
    root : Path
        The package's folder.

    Returns
    -------
    dict
        :func:`describe`'s, and ``imports``, the package's :func:`import_graph`.
    """
    path = Path(folder) / f"catalogue-{source_digest(root)[:16]}.json"
    if path.exists():
        return json.loads(path.read_text())
    # written in registry order, and returned as read back, so a cached and a fresh
    # description are the same values in the same order (rule parameters compare them)
    text = json.dumps({**describe(), "imports": import_graph(root)}, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("catalogue-*.json"):
        old.unlink()
    path.write_text(text)
    return json.loads(text)


def config_schema(base: Mapping, catalogue: Mapping) -> dict:
    """Return the config schema with the registered families filled in.

    ``$defs.model_name`` gets the family names as its enum, ``model_options`` a property per
    family (from its options class), and ``calibration`` its defaults (every calibrated family,
    each with its default design).

    Parameters
    ----------
    base : mapping
        ``workflow/schemas/config.schema.yaml`` as read.
    catalogue : mapping
        From :func:`describe`.

    Returns
    -------
    dict
    """
    schema = copy.deepcopy(dict(base))
    families = catalogue["families"]
    schema["$defs"]["model_name"]["enum"] = list(families)
    schema["properties"]["model_options"]["properties"] = {
        name: family["options"] for name, family in families.items()
    }
    calibrated = {name: f["calibration"] for name, f in families.items() if f["calibration"]}
    calibration = schema["properties"]["calibration"]["properties"]
    calibration["designs"]["default"] = calibrated
    calibration["models"]["default"] = list(calibrated)
    calibration["models"]["items"]["enum"] = list(calibrated)
    return schema


def _cell(value) -> str:
    """Show a default as the config would write it."""
    if value is None:
        return "derived from the data"
    return f"`{json.dumps(value).replace('"', '')}`"


def options_table(catalogue: Mapping) -> str:
    """Return the Markdown table of every family's options, as ``config/README.md`` shows it.

    Parameters
    ----------
    catalogue : mapping
        From :func:`describe`.

    Returns
    -------
    str
        Header and one row per option (``priors`` last for each family).
    """
    rows = ["| Key | Default | Meaning |", "| --- | --- | --- |"]
    for name, family in catalogue["families"].items():
        for key, spec in family["options"]["properties"].items():
            if key == "priors":
                continue
            rows.append(
                f"| `model_options.{name}.{key}` | {_cell(spec.get('default'))} | "
                f"{spec['description']} |"
            )
        rows.append(
            f"| `model_options.{name}.priors` | `{{}}` | Prior overrides, `<parameter>: "
            f"{{dist: <name>, <param>: <value>}}`; parameters and default priors in "
            f"`il6fit/models/{name}.py` and in the report. |"
        )
    return "\n".join(rows)


@functools.lru_cache(maxsize=1024)
def _module_file(module: str, root: Path) -> Path | None:
    """Return the source file of an il6fit module, or None if it is not one of the package's."""
    parts = module.split(".")
    if parts[0] != root.name:
        return None
    base = root.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


@functools.lru_cache(maxsize=512)
def _imported(path: Path, root: Path) -> frozenset[str]:
    """Return the package modules a source file imports (``from pkg import module`` included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _module_file(f"{node.module}.{alias.name}", root) is not None
            )
    return frozenset(name for name in found if _module_file(name, root) is not None)


def code_files(
    modules: Iterable[str],
    *,
    scripts: Iterable[str | Path] = (),
    exclude: Iterable[str] = (),
    root: Path = ROOT,
    imports: Mapping[str, Iterable[str]] | None = None,
) -> list[Path]:
    """Return the source files that scripts and modules run: themselves and what they import.

    Parameters
    ----------
    modules : iterable of str
        il6fit modules, e.g. ``il6fit.models.il6_crp``.
    scripts : iterable of path
        Script files; their il6fit imports are followed too.
    exclude : iterable of str
        Modules not followed (besides the registry, which never is).
    root : Path
        The package's folder.
    imports : mapping, optional
        The package's :func:`import_graph`, if read already (the scripts are parsed anyway).

    Returns
    -------
    list of Path
        Sorted, scripts first; with a module of :data:`MODULE_DATA`, the files it reads.
    """
    skip = {REGISTRY, root.name, *exclude}
    seen: dict[str, Path] = {}
    todo = [m for m in modules if m not in skip]
    for script in scripts:
        todo.extend(_imported(Path(script), root) - skip)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(module, root)
        if path is None:
            continue
        seen[module] = path
        found = _imported(path, root) if imports is None else set(imports[module])
        todo.extend(found - skip - set(seen))
    data = [
        path
        for module, folder in MODULE_DATA.items()
        if module in seen
        for path in (root / folder).rglob("*")
        if path.is_file()
    ]
    return [Path(s) for s in scripts] + sorted([*seen.values(), *data])


def code_digest(files: Iterable[Path]) -> str:
    """Digest of the contents of some source files (not their times: a touch changes nothing).

    Parameters
    ----------
    files : iterable of Path
        From :func:`code_files`.

    Returns
    -------
    str
        Hex SHA-256, first 16 characters.
    """
    digest = hashlib.sha256()
    for path in files:
        digest.update(Path(path).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
