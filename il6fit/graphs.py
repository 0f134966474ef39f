"""Rewritten graphs of the sampler's functions, kept between fit jobs.

Compiling a model's log density with its gradient is, with the compiled kernels already in the
cache, mostly PyTensor rewriting the graph: 2-4 s of every fit job, and all of a refit's compile.
The rewritten graph depends on the model's structure only: its data enter as shared variables,
which rewrites never read. A job that compiles a graph stores the rewritten graph under a key of
the graph's structure; a later job whose graph has the same key (the same model on other data,
or the same data again) loads it and only links it to the cached kernels. The same rewritten
graph gives the same kernels, so a result never depends on whether its graph came from here.

The key (:func:`structure_key`) is a hash of every node in topological order: its ``Op``'s class
and properties, where its inputs come from, its outputs' types; of every constant's bytes; of the
data's names and types (not their values); and of the versions and settings that rewriting
depends on. A graph with anything the key cannot describe faithfully (an ``Op`` without
declared properties, random generators, an unnamed or doubly named data variable) is not kept:
it compiles as it always did. Stored graphs hold no data (the shared variables' values are
emptied in the copy written).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytensor
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.traversal import io_toposort
from pytensor.link.numba.cache import hash_from_pickle_dump
from pytensor.link.numba.dispatch.basic import cache_key_for_constant
from pytensor.tensor.random.type import RandomType

log = logging.getLogger(__name__)

#: Folder of the stored graphs in a job's compile cache (beside numba's kernels).
FOLDER = "graphs"

#: What rewriting depends on besides the graph: package versions and PyTensor settings.
_PACKAGES = ("pytensor", "pymc", "numba", "numpy", "nutpie")
_SETTINGS = (
    "floatX", "optimizer", "optimizer_including", "optimizer_excluding", "optimizer_requiring",
    "numba__fastmath", "linker", "mode", "on_opt_error", "cast_policy",
)  # fmt: skip


class Uncacheable(Exception):
    """A graph whose structure the key cannot describe faithfully."""


def _salt(extra: object) -> str:
    versions = [(p, importlib.metadata.version(p)) for p in _PACKAGES]
    settings = [(s, str(getattr(pytensor.config, s, None))) for s in _SETTINGS]
    return repr((versions, settings, extra))


def _op_key(op) -> str:
    if not hasattr(type(op), "__props__"):
        # such an Op is equal only to itself: its behaviour may hang on state a key cannot see
        raise Uncacheable(f"{type(op).__name__} declares no properties")
    return hash_from_pickle_dump((type(op).__module__, type(op).__qualname__, op._props_dict()))


def structure_key(
    inputs: Sequence[Variable], outputs: Sequence[Variable], extra: object = None
) -> tuple[str, dict[str, SharedVariable]]:
    """Key of a graph's structure, and the data (shared variables) it reads.

    Parameters
    ----------
    inputs : sequence of Variable
        The function's explicit inputs.
    outputs : sequence of Variable
        Its outputs (with any replacements already made).
    extra : object, optional
        Anything else the compiled function depends on (its repr is hashed).

    Returns
    -------
    key : str
        A hex digest: equal for graphs equal but for their data's values (and sizes where the
        data's types leave the size open).
    shared : dict of str to SharedVariable
        The shared variables the graph reads, by name.

    Raises
    ------
    Uncacheable
        For a graph the key cannot describe (see the module's docstring).
    """
    refs: dict[Variable, tuple] = {v: ("input", k, str(v.type)) for k, v in enumerate(inputs)}
    shared: dict[str, Variable] = {}

    def ref(var: Variable) -> tuple:
        if var in refs:
            return refs[var]
        if var.owner is not None:
            raise Uncacheable("a variable computed outside the graph's order")
        if isinstance(var, Constant):
            key = ("constant", str(var.type), cache_key_for_constant(var.data))
        elif isinstance(var, SharedVariable) and not isinstance(var.type, RandomType):
            if not var.name or shared.get(var.name, var) is not var:
                raise Uncacheable(f"data variable without a unique name ({var.name!r})")
            shared[var.name] = var
            key = ("shared", var.name, str(var.type))
        else:
            raise Uncacheable(f"a free input {var} not among the function's inputs")
        refs[var] = key
        return key

    parts = []
    for i, node in enumerate(io_toposort(list(inputs), list(outputs))):
        parts.append(
            (_op_key(node.op), tuple(ref(v) for v in node.inputs),
             tuple(str(o.type) for o in node.outputs))
        )  # fmt: skip
        for j, out in enumerate(node.outputs):
            refs[out] = ("node", i, j)
    parts.append(tuple(ref(v) for v in outputs))
    digest = sha256(repr((parts, _salt(extra))).encode()).hexdigest()
    return digest, shared


@dataclass
class _Loaded:
    """What the sampler's callbacks read of a compiled function: its numba function and data."""

    jit_fn: Callable
    shared: list[SharedVariable]

    @property
    def vm(self):
        return self

    def get_shared(self) -> list[SharedVariable]:
        return self.shared


def _folder() -> Path:
    return Path(pytensor.config.base_compiledir) / FOLDER


def load(key: str, shared: dict[str, SharedVariable]) -> _Loaded | None:
    """Link a stored rewritten graph to the numba kernels, or None if none is stored.

    Parameters
    ----------
    key : str
        From :func:`structure_key`.
    shared : dict of str to SharedVariable
        The current graph's data variables by name; the loaded function reads their values in
        the stored graph's order.

    Returns
    -------
    object or None
        With ``vm.jit_fn`` (the numba function of the inputs, then the data in that order) and
        ``get_shared()``; None where no graph is stored or it reads data the graph has not.
    """
    from pytensor.link.numba.linker import NumbaLinker

    path = _folder() / f"{key}.pkl"
    if not path.is_file():
        return None
    with path.open("rb") as f:
        fgraph, names = pickle.load(f)
    if not set(names) <= set(shared):
        return None
    thunk = NumbaLinker().accept(fgraph).make_all()[0]
    return _Loaded(thunk.jit_fn, [shared[name] for name in names])


def store(key: str, function) -> None:
    """Write a compiled function's rewritten graph under ``key``, its data emptied.

    Parameters
    ----------
    key : str
        From :func:`structure_key`.
    function : pytensor.compile.function.types.Function
        Compiled by PyTensor with the numba linker.
    """
    fgraph = function.maker.fgraph
    data = [v for v in fgraph.inputs if isinstance(v, SharedVariable)]
    names = [v.name for v in data]
    kept = [v.container.storage[0] for v in data]
    try:
        for v, value in zip(data, kept, strict=True):
            v.container.storage[0] = np.empty((0,) * np.ndim(value), np.asarray(value).dtype)
        payload = pickle.dumps((fgraph, names), protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        for v, value in zip(data, kept, strict=True):
            v.container.storage[0] = value
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    # written whole, then renamed: a reader never sees half a file
    handle, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(handle, "wb") as f:
        f.write(payload)
    os.replace(tmp, folder / f"{key}.pkl")


def _rewritten(compile_fn: Callable, *args, **kwargs) -> SimpleNamespace:
    """Run ``compile_fn`` as far as the rewritten graph, without linking it.

    PyTensor's ``function`` builds a ``FunctionMaker`` (which rewrites) and calls its ``create``
    (which links); ``create`` is skipped for this one call, and the maker returned.
    """
    from pytensor.compile.maker import FunctionMaker

    create = FunctionMaker.create
    FunctionMaker.create = lambda self, *_a, **_k: SimpleNamespace(maker=self)
    try:
        return compile_fn(*args, **kwargs)
    finally:
        FunctionMaker.create = create


def cached_compile(compile_fn: Callable, extra: object = None) -> Callable:
    """Wrap PyMC's ``compile`` so that a graph compiled before is loaded, not rewritten again.

    Parameters
    ----------
    compile_fn : callable
        :func:`pymc.pytensorf.compile` (inputs, outputs, ``givens``, ``mode``, ...).
    extra : object, optional
        Anything else the functions depend on, for the key (e.g. the model's ``check_bounds``).

    Returns
    -------
    callable
        Same signature; returns PyTensor's function, or for a stored graph an object with the
        two things the sampler's callbacks read: ``vm.jit_fn`` and ``get_shared()``.
    """
    from pytensor.graph import clone_replace

    def compile_cached(inputs, outputs, *args, givens=None, **kwargs):
        if kwargs.get("mode") != "NUMBA":  # a stored graph is linked with numba
            return compile_fn(inputs, outputs, *args, givens=givens, **kwargs)
        replaced = clone_replace(list(outputs), dict(givens)) if givens else list(outputs)
        try:
            key, by_name = structure_key(inputs, replaced, (extra, args, sorted(kwargs.items())))
        except Uncacheable as reason:
            log.debug("graph compiled without a stored copy: %s", reason)
            return compile_fn(inputs, outputs, *args, givens=givens, **kwargs)
        try:
            loaded = load(key, by_name)
        except Exception as error:  # a stored graph never fails a fit: compile it instead
            log.debug("stored graph %s not linked (%s); compiling", key[:12], error)
            loaded = None
        if loaded is not None:
            log.debug("graph %s loaded", key[:12])
            return loaded
        try:
            # rewritten here, linked from the stored copy: every job, this one included, links
            # the same graph (a copy's constants are contiguous arrays, which numba's cache
            # keys apart from strided originals of the same values)
            store(key, _rewritten(compile_fn, inputs, outputs, *args, givens=givens, **kwargs))
            loaded = load(key, by_name)
        except Exception as error:  # e.g. a graph too deep to pickle: compile it as it is
            log.debug("graph %s not stored: %s", key[:12], error)
        if loaded is not None:
            return loaded
        return compile_fn(inputs, outputs, *args, givens=givens, **kwargs)

    return compile_cached
