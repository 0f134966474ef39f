"""How a built model is sampled: turn a PyMC model into reproducible posterior draws.

:class:`SamplerSettings` says how; :func:`sample_posterior` is the one sampling entry point (NUTS
with nutpie or PyMC, or an approximate ADVI preview, see :func:`is_preview`); :func:`sample` adds
the log-likelihood, log-prior, prior and predictive groups a fit carries. Everything is compiled
under :data:`COMPILE_FLAGS`, so the same inputs and seed give the same draws whether the compile
cache was empty or full. Refitting on failure lives in :mod:`il6fit.escalation`, saving and
reading fits in :mod:`il6fit.storage`, fitting a family to a dataset in :mod:`il6fit.inference`.
"""

from __future__ import annotations

import copy
import logging
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import pytensor
import xarray as xr
from arviz_base import dict_to_dataset
from pymc.backends.arviz import coords_and_dims_for_inferencedata, patch_nutpie_idata
from pymc.initial_point import make_initial_point_fn
from threadpoolctl import threadpool_limits

from il6fit.errors import SpecError
from il6fit.models import ModelFamily

if TYPE_CHECKING:
    import nutpie

log = logging.getLogger(__name__)

BACKENDS = ("nutpie", "pymc")

#: PyTensor flags every model is compiled with. Without LLVM's fast-math flags (PyTensor's
#: default turns on reassociation, contraction to fused multiply-add and approximate functions),
#: a kernel compiled in the running process and the same kernel loaded from the compile cache
#: give the same bits: with them, code inlined into its caller was optimised differently, the
#: log density and gradient differed (300 random points of ``treatment_response``: 1,131 of
#: 3,300 values, by up to 8e-10) and NUTS turned that into another posterior sample. Exact
#: arithmetic makes a fit on a cold cache and on a warm one bit-identical with one compilation
#: (sampling time: ``treatment_response`` 25 % longer, ``mmrm`` 40 % shorter;
#: benchmarks/RESULTS.md).
COMPILE_FLAGS = {"numba__fastmath": False}

#: Mass-matrix adaptations of nutpie.
ADAPTATIONS = ("low_rank", "diag")

#: Ways of fitting: ``nuts`` (the default; exact up to Monte Carlo error) or ``advi`` (PyMC's
#: mean-field ADVI, an approximate preview for large data; never passes the diagnostics gate).
METHODS = ("nuts", "advi")


@dataclass(frozen=True)
class SamplerSettings:
    """How to run NUTS (or the approximate preview).

    Attributes
    ----------
    method : {"nuts", "advi"}
        ``nuts``, or ``advi`` for a fast approximate preview: mean-field ADVI
        (``advi_iterations`` steps), then ``chains * draws`` draws from the approximation in
        one chain. A preview's means can be off by several posterior SDs
        (``benchmarks/RESULTS.md``); it is marked as such and never passes the diagnostics
        gate.
    advi_iterations : int
        Optimisation steps of the preview.
    backend : {"nutpie", "pymc"}
        ``nutpie`` (compiled with numba; the default and fastest here) or PyMC's own sampler.
    chains, draws, tune : int
        Number of chains, kept draws per chain and tuning steps per chain.
    target_accept : float
        Target acceptance rate of the step-size adaptation.
    max_treedepth : int
        Maximum tree depth.
    adaptation : {"low_rank", "diag"}
        nutpie's mass-matrix adaptation: ``low_rank`` (diagonal plus low-rank corrections,
        which follow correlated posteriors: at the ``il6_crp`` calibration design 7 of 40
        replicate fits failed the gate against 21 of 40 with ``diag``) or ``diag``. The
        ``pymc`` backend adapts a diagonal whatever this says.
    prior_draws : int
        Draws from the prior and prior predictive distribution kept for the prior predictive
        check (0 for none).
    cores : int
        Chains sampled in parallel (set to the job's threads).
    """

    method: str = "nuts"
    advi_iterations: int = 30000
    backend: str = "nutpie"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    target_accept: float = 0.95
    max_treedepth: int = 10
    adaptation: str = "low_rank"
    prior_draws: int = 500
    cores: int = 1

    def __post_init__(self):
        if self.method not in METHODS:
            raise SpecError(
                f"unknown sampler method '{self.method}'; choose one of {', '.join(METHODS)}."
            )
        if self.adaptation not in ADAPTATIONS:
            raise SpecError(
                f"unknown sampler adaptation '{self.adaptation}'; choose one of "
                f"{', '.join(ADAPTATIONS)}."
            )
        if self.backend not in BACKENDS:
            raise SpecError(
                f"unknown sampler backend '{self.backend}'; choose one of {', '.join(BACKENDS)}."
            )


class CompiledModel:
    """A compiled model kept for fits of new data of the same structure (nutpie only).

    Pass the same object to every :func:`sample_posterior` call: the first compiles and keeps
    the result, later ones swap in their model's ``pm.Data`` values without recompiling
    (valid while the number of free parameters does not change).
    """

    def __init__(self):
        self.compiled = None


def sample(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    *,
    family: ModelFamily | None = None,
    generative: pm.Model | None = None,
) -> xr.DataTree:
    """Sample a model's posterior with NUTS; add log-likelihood, prior and posterior predictive.

    Parameters
    ----------
    model : pymc.Model
        The model.
    settings : SamplerSettings
        Sampler options.
    seed : int
        Random seed; the same seed, data and versions give identical draws.
    family : ModelFamily, optional
        The model's family; with :attr:`ModelFamily.marginal` set, the latent values it
        integrated out are drawn back (:meth:`ModelFamily.complete`), the log-likelihood is
        its per-unit potentials and predictive draws come from ``generative``.
    generative : pymc.Model, optional
        The family's generative model (:meth:`ModelFamily.generative`) for the same data;
        needed with a marginal family.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``, ``log_prior``,
        ``posterior_predictive``, ``observed_data``, ``constant_data`` and, unless
        ``settings.prior_draws`` is 0, ``prior`` and ``prior_predictive``. Predictive draws of a
        censored variable are censored at the same limits as the data.
    """
    if settings.method == "advi":
        log.info(
            "APPROXIMATE PREVIEW: mean-field ADVI, %d steps, then %d draws; not for inference",
            settings.advi_iterations,
            settings.chains * settings.draws,
        )
    else:
        log.info(
            "sampling with %s: %d chains x (%d tuning + %d draws) = %d iterations, %d in parallel",
            settings.backend,
            settings.chains,
            settings.tune,
            settings.draws,
            settings.chains * (settings.tune + settings.draws),
            settings.cores,
        )
    with model:
        tree = sample_posterior(model, settings, seed)
        sampled = time.perf_counter()
        stats = tree["sample_stats"].attrs
        if is_preview(tree):
            log.info("preview compiled, optimised and drawn in %.1f s", stats["sampling_time"])
        else:
            log.info(
                "compiled in %.1f s, sampled in %.1f s",
                stats["compile_time"],
                stats["sampling_time"],
            )
        marginal = family is not None and family.marginal is not None
        if model.observed_RVs:
            tree["log_likelihood"] = xr.DataTree(pointwise_log_density(tree, model, "likelihood"))
        if marginal:
            potentials = family.marginal.potentials
            tree, terms = family.complete_with_log_likelihood(
                tree, seed + 3, lambda: potential_log_likelihood(tree, model, potentials)
            )
            if "log_likelihood" in tree.children:
                terms = tree["log_likelihood"].to_dataset().merge(terms)
            tree["log_likelihood"] = xr.DataTree(terms)
        tree["log_prior"] = xr.DataTree(pointwise_log_density(tree, model, "prior"))
    drawing = generative if marginal else model
    with drawing, warnings.catch_warnings():
        # Potentials only renormalise latent predictors; observed variables are drawn
        # given the posterior draws, which already reflect them.
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        names = [v.name for v in drawing.observed_RVs]
        drawn = predictive_draws(tree["posterior"], drawing, names, seed + 1)
        if drawn is not None:
            tree.update(pm.to_inference_data(posterior_predictive=drawn, model=drawing))
        else:  # a distribution PyTensor cannot vectorise: one call a draw
            pm.sample_posterior_predictive(
                tree,
                model=drawing,
                var_names=names,
                random_seed=seed + 1,
                extend_inferencedata=True,
                progressbar=False,
                compile_kwargs={"mode": POST_MODE},
            )
        if marginal:
            tree["observed_data"] = xr.DataTree(_data_group(drawing, drawing.observed_RVs))
        if settings.prior_draws:
            # the prior of a latent censored predictor is drawn without its potential:
            # truncated at the limit rather than renormalised, which a prior check tolerates
            prior = pm.sample_prior_predictive(
                draws=settings.prior_draws,
                random_seed=seed + 2,
                compile_kwargs={"mode": POST_MODE},
            )
            for group in ("prior", "prior_predictive"):
                tree[group] = prior[group]
    log.info(
        "log-likelihood, log-prior, prior and posterior predictive in %.1f s",
        time.perf_counter() - sampled,
    )
    return tree


def potential_log_likelihood(
    tree: xr.DataTree, model: pm.Model, potentials: tuple[str, ...]
) -> xr.Dataset:
    """Pointwise log-likelihood terms a marginal model holds as potentials, at every draw.

    Parameters
    ----------
    tree : xarray.DataTree
        Posterior draws of the model's free variables (and deterministics).
    model : pymc.Model
        The model.
    potentials : tuple of str
        Names of its per-unit potentials (one dim each); those it lacks are skipped.

    Returns
    -------
    xarray.Dataset
        One variable per potential, dims (chain, draw, its dim).
    """
    post = tree["posterior"]
    names = [name for name in potentials if name in model.named_vars]
    inputs = [v for v in model.free_RVs + model.deterministics if v.name in post]
    values = over_draws(post, inputs, [model[name] for name in names])
    return _draws_dataset(post, model, names, values)


def pointwise_log_density(tree: xr.DataTree, model: pm.Model, kind: str) -> xr.Dataset:
    """Elementwise log-likelihood or log-prior of a model's variables at every posterior draw.

    What :func:`pymc.compute_log_likelihood` and :func:`pymc.stats.compute_log_prior` return,
    computed by one vectorised evaluation over the draws (:func:`over_draws`) instead of one
    call per draw, and with nothing compiled.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with a ``posterior`` group.
    model : pymc.Model
        The fitted model.
    kind : {"likelihood", "prior"}
        Observed variables' log-likelihood, or free variables' log-prior (no Jacobian).

    Returns
    -------
    xarray.Dataset
        One variable per observed (or free) variable, dims (chain, draw, its dims).
    """
    from pymc.model.transform.conditioning import remove_value_transforms

    post = tree["posterior"]
    plain = remove_value_transforms(model)
    targets = plain.observed_RVs if kind == "likelihood" else plain.free_RVs
    terms = plain.logp(vars=targets, sum=False)
    inputs = [plain.rvs_to_values[rv] for rv in plain.free_RVs]
    # value variables of the untransformed model are named after their variables
    values = over_draws(post, inputs, terms, names=[rv.name for rv in plain.free_RVs])
    coords, dims = coords_and_dims_for_inferencedata(plain)
    shape = (post.sizes["chain"], post.sizes["draw"])
    out = dict_to_dataset(
        {rv.name: v.reshape(*shape, *v.shape[1:]) for rv, v in zip(targets, values, strict=True)},
        dims=dims,
        coords=coords | {"chain": post["chain"].values, "draw": post["draw"].values},
        sample_dims=["chain", "draw"],
        skip_event_dims=True,  # a multivariate variable's log density has no event dims
    )
    out.attrs = {}
    return out


#: Mode of the functions evaluated after sampling (log-likelihood, log-prior, predictive
#: draws): NumPy implementations, nothing compiled, so they cost no compile time and their
#: results never depend on what a compile cache holds.
POST_MODE = "FAST_COMPILE"

#: Values held at once by :func:`over_draws` (draws x elements per draw).
CHUNK_VALUES = 4_000_000
#: Memory :func:`over_draws` lets one chunk's intermediate arrays take, bytes: a graph whose
#: intermediates are much larger than its outputs (a course per exposure profile, quadrature
#: node and step for a value per patient) is evaluated on fewer draws at a time.
CHUNK_BYTES = 512 * 2**20


def over_draws(
    post: xr.DataTree | xr.Dataset, inputs: list, outputs: list, names: list[str] | None = None
) -> list[np.ndarray]:
    """Evaluate graphs at every draw: vectorised over a leading draw axis, in chunks of draws.

    A chunk holds at most :data:`CHUNK_VALUES` output values, and its intermediate arrays,
    judged from the memory the first draw takes, at most :data:`CHUNK_BYTES`.

    Parameters
    ----------
    post : xarray.DataTree or xarray.Dataset
        Draws (chain, draw, ...) of the variables ``inputs`` stand for.
    inputs : list of TensorVariable
        Graph inputs, each replaced by its draws.
    outputs : list of TensorVariable
        Graphs of ``inputs``.
    names : list of str, optional
        Names of the draws of each input in ``post`` (default: the inputs' names).

    Returns
    -------
    list of numpy.ndarray
        Per output, its values at each draw (chain x draw flattened first).
    """
    import pytensor.graph

    batched, values = _batched(post, inputs, names or [v.name for v in inputs])
    vectorised = pytensor.graph.vectorize_graph(outputs, replace=batched)
    fn = pytensor.function(
        list(batched.values()), vectorised, on_unused_input="ignore", mode=POST_MODE
    )
    n = post.sizes["chain"] * post.sizes["draw"]
    tracing = tracemalloc.is_tracing()  # already traced (a profiler): its peak is an upper bound
    if not tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        first = fn(*(value[:1] for value in values))
        peak = tracemalloc.get_traced_memory()[1] - before  # numpy's arrays are traced
    finally:
        if not tracing:
            tracemalloc.stop()
    per_draw = max(sum(int(np.prod(np.shape(out))) for out in first), 1)
    step = max(min(CHUNK_VALUES // per_draw, CHUNK_BYTES // max(peak, 1)), 1)
    log.debug("evaluated in chunks of %d draws (%d bytes for one draw)", step, peak)
    chunks = [fn(*(value[i : i + step] for value in values)) for i in range(0, n, step)]
    return [np.concatenate([np.asarray(c[k]) for c in chunks]) for k in range(len(outputs))]


def _batched(
    post: xr.DataTree | xr.Dataset, inputs: list, names: list[str]
) -> tuple[dict, list[np.ndarray]]:
    """Graph inputs with a leading draw axis, and their draws (chain x draw flattened)."""
    import pytensor.tensor as pt

    n = post.sizes["chain"] * post.sizes["draw"]
    batched = {v: pt.tensor(name, shape=(None, *v.type.shape), dtype=v.type.dtype)
               for v, name in zip(inputs, names, strict=True)}  # fmt: skip
    values = [
        np.asarray(post[name].values, dtype=v.type.dtype).reshape(n, *post[name].shape[2:])
        for v, name in zip(inputs, names, strict=True)
    ]
    return batched, values


def predictive_draws(
    post: xr.DataTree | xr.Dataset, model: pm.Model, names: list[str], seed: int
) -> dict[str, np.ndarray] | None:
    """Draw variables given every posterior draw at once (a vectorised posterior predictive).

    :func:`pymc.sample_posterior_predictive` without its one call a draw: the model's free
    variables in ``post`` are replaced by their draws along a leading axis (as
    :func:`over_draws` does), and one call draws for a chunk of posterior draws. NumPy's
    generators fill a batch in the order one call a draw would, so for the distributions of
    the families (normal, censored normal, Bernoulli, categorical) the values are those
    :func:`pymc.sample_posterior_predictive` gives with the same seed, bit for bit, but for a
    computed parameter's last bits (evaluated over the draws at once). A distribution drawn in
    two stages (a beta-binomial: all the betas, then all the binomials) would give other values
    for other chunks; the chunks are fixed by the data's shapes, so still the same every run.

    Parameters
    ----------
    post : xarray.DataTree or xarray.Dataset
        Posterior draws (chain, draw, ...).
    model : pymc.Model
        The model the variables belong to.
    names : list of str
        Variables to draw (observed ones, for a posterior predictive check).
    seed : int
        Random seed.

    Returns
    -------
    dict of str to numpy.ndarray or None
        Per variable, its draws shaped (chain, draw, ...); None when PyTensor cannot vectorise
        the graph (a custom distribution without a batched form) or a free variable the draws
        need is not in ``post``: draw one call a draw then.
    """
    import pytensor.graph
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.random.type import RandomGeneratorType

    inputs = [rv for rv in model.free_RVs if rv.name in post]
    outputs = [model[name] for name in names]
    needed = set(ancestors(outputs, blockers=inputs)) & set(model.free_RVs)
    if not needed <= set(inputs):
        return None
    batched, values = _batched(post, inputs, [v.name for v in inputs])
    try:
        vectorised = pytensor.graph.vectorize_graph(outputs, replace=batched)
    except (NotImplementedError, ValueError) as error:
        log.debug("predictive draws one call a draw: %s", error)
        return None
    # every intermediate kept, so one draw's storage measures what a chunk holds
    with pytensor.config.change_flags(allow_gc=False):
        fn = pm.pytensorf.compile(
            list(batched.values()),
            vectorised,
            random_seed=seed,
            mode=POST_MODE,
            on_unused_input="ignore",
        )
    shape = (post.sizes["chain"], post.sizes["draw"])
    n = shape[0] * shape[1]
    # a trial call on one draw, its generators' states put back after
    generators = [c for c in fn.input_storage if isinstance(c.type, RandomGeneratorType)]
    states = [copy.deepcopy(c.storage[0]) for c in generators]
    first = fn(*(value[:1] for value in values))
    held = sum(s[0].nbytes for s in fn.vm.storage_map.values() if isinstance(s[0], np.ndarray))
    for container, state in zip(generators, states, strict=True):
        container.storage[0] = state
    if any(np.shape(out)[:1] != (1,) for out in first):  # not batched after all
        return None
    per_draw = max(sum(int(np.prod(np.shape(out))) for out in first), 1)
    step = max(min(CHUNK_VALUES // per_draw, CHUNK_BYTES // max(held, 1)), 1)
    drawn = [np.empty((n, *out.shape[1:]), dtype=out.dtype) for out in first]
    for i in range(0, n, step):
        for out, chunk in zip(drawn, fn(*(value[i : i + step] for value in values)), strict=True):
            out[i : i + step] = chunk
    return {
        name: out.reshape(*shape, *out.shape[1:]) for name, out in zip(names, drawn, strict=True)
    }


def _draws_dataset(
    post: xr.DataTree | xr.Dataset, model: pm.Model, names: list[str], values: list[np.ndarray]
) -> xr.Dataset:
    """Per-draw values of one-dim model variables as a dataset with the model's coords."""
    shape = (post.sizes["chain"], post.sizes["draw"])
    dims = {name: model.named_vars_to_dims[name][0] for name in names}
    return xr.Dataset(
        {
            name: (("chain", "draw", dims[name]), value.reshape(*shape, -1))
            for name, value in zip(names, values, strict=True)
        },
        coords={"chain": post["chain"].values, "draw": post["draw"].values}
        | {dim: np.asarray(model.coords[dim]) for dim in dims.values()},
    )


def _data_group(model: pm.Model, variables) -> xr.Dataset:
    """Observed values of a model's variables, with their dims and coords."""
    dims = model.named_vars_to_dims
    data = {}
    for var in variables:
        value = model.rvs_to_values[var]
        value = value.get_value() if hasattr(value, "get_value") else value.eval()
        data[var.name] = (dims.get(var.name, ()), np.asarray(value))
    used = {d for dim, _ in data.values() for d in dim}
    coords = {d: np.asarray(model.coords[d]) for d in used if model.coords.get(d) is not None}
    return xr.Dataset(data, coords=coords)


def sample_posterior(
    model: pm.Model,
    settings: SamplerSettings,
    seed: int,
    *,
    reuse: CompiledModel | None = None,
) -> xr.DataTree:
    """Draw from a model's posterior with NUTS, timing compilation and sampling apart.

    The one sampling entry point: fits (through :func:`sample`), calibration replicates and
    recovery studies all sample here.

    Parameters
    ----------
    model : pymc.Model
        The model.
    settings : SamplerSettings
        Sampler options.
    seed : int
        Random seed.
    reuse : CompiledModel, optional
        Keep the compiled model there and reuse it for later calls with new data (nutpie).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``observed_data`` and ``constant_data``;
        ``sample_stats`` attributes ``compile_time`` and ``sampling_time`` (seconds, tuning
        included in sampling). A preview (``settings.method == "advi"``) has the root
        attribute ``il6fit_method`` set to ``"advi"`` (see :func:`is_preview`) and
        ``sample_stats`` holding only the loss (negative ELBO) per optimisation step.
    """
    start = time.perf_counter()
    # One BLAS thread: each chain is one thread and its matrix products are small. OpenBLAS's
    # own threads, spinning beside the chains' on a machine with more threads than cores, made
    # sampling 2-10 times slower (benchmarks/RESULTS.md, issue 23).
    with (
        model,
        pytensor.config.change_flags(**COMPILE_FLAGS),
        threadpool_limits(limits=1, user_api="blas"),
    ):
        if settings.method == "advi":
            return _fit_advi(model, settings, seed)
        if settings.backend == "nutpie":
            return _sample_nutpie(model, settings, seed, reuse)
        tree = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.cores,
            random_seed=seed,
            nuts_sampler=settings.backend,
            nuts={
                "target_accept": settings.target_accept,
                "max_treedepth": settings.max_treedepth,
            },
            progressbar=False,
            compute_convergence_checks=False,
        )
        stats = tree["sample_stats"]
        stats.attrs["compile_time"] = time.perf_counter() - start - stats.attrs["sampling_time"]
    return tree


def is_preview(tree: xr.DataTree) -> bool:
    """Whether a fit is an approximate preview (ADVI) rather than NUTS draws."""
    return tree.attrs.get("il6fit_method", "nuts") != "nuts"


def _fit_advi(model: pm.Model, settings: SamplerSettings, seed: int) -> xr.DataTree:
    """Mean-field ADVI and draws from its approximation, logging progress every tenth."""
    every = max(settings.advi_iterations // 10, 1)

    def progress(_approx, losses, i):
        if i % every == 0:
            log.info("ADVI step %d of %d: loss %.1f", i, settings.advi_iterations, losses[-1])

    start = time.perf_counter()
    approx = pm.fit(
        n=settings.advi_iterations,
        method="advi",
        random_seed=seed,
        progressbar=False,
        callbacks=[progress],
    )
    fitted = time.perf_counter()
    tree = approx.sample(settings.chains * settings.draws, random_seed=seed + 3)
    tree["sample_stats"] = xr.DataTree(
        xr.Dataset({"loss": ("step", np.asarray(approx.hist, dtype=float))})
    )
    tree["sample_stats"].attrs["compile_time"] = 0.0  # not separable from the optimisation
    tree["sample_stats"].attrs["sampling_time"] = time.perf_counter() - start
    tree["sample_stats"].attrs["optimisation_time"] = fitted - start
    tree.attrs["il6fit_method"] = "advi"
    return tree


def compile_python_callbacks(model: pm.Model) -> nutpie.compiled_pyfunc.PyFuncModel:
    """Compile a model for nutpie with its log density and draws called back through Python.

    nutpie's numba route (``nutpie.compile_pymc_model(model, backend="numba")``) compiles
    PyTensor's numba functions of the log density with its gradient and of the draws, then
    wraps each in a C callback. Those two wrappers are compiled again in every process (numba
    cannot cache them: "uses dynamic globals"): 11-17 s of every fit with a warm compile cache.
    Here nutpie calls the same numba functions through Python instead, so a warm cache leaves
    nothing to compile (2-4 s) and the draws are bit-identical to the numba route's; each
    gradient costs about 25 microseconds more (nutpie's call into Python and back). A graph
    that an earlier job rewrote (the same model, on any data) is loaded rather than rewritten
    (:mod:`il6fit.graphs`; 1.5-2 s of a refit's compile).

    The Python callbacks hold the interpreter lock, so chains sampled in parallel would take
    turns: :func:`sample_posterior` uses this for a model sampled once with one chain at a time
    (``cores`` 1, what a local fit job declares), and nutpie's route where many datasets share
    one compiled model (calibration) or chains run in parallel.

    Parameters
    ----------
    model : pymc.Model
        The model, compiled under the caller's PyTensor flags (:data:`COMPILE_FLAGS`).

    Returns
    -------
    nutpie.compiled_pyfunc.PyFuncModel
        What ``nutpie.sample`` takes. Its functions have run once, so loading or compiling them
        is done when this returns.
    """
    # nutpie's own building blocks of its numba route (private: the pinned version's, see
    # requirements.lock; tests/slow/test_sampling_routes_draws.py checks the two routes agree)
    from nutpie.compile_pymc import _make_functions, _prepare_dims_and_coords, _wrap_with_lock
    from nutpie.compiled_pyfunc import from_pyfunc

    from il6fit.graphs import cached_compile  # imports numba: only where a fit compiles

    initial_point = _wrap_with_lock(
        make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs), return_transformed=True)
    )
    # nutpie builds the graphs and compiles them with PyMC's compile: a graph rewritten by an
    # earlier job (the same model on any data) is loaded instead (il6fit.graphs)
    compile_pymc = pm.pytensorf.compile
    pm.pytensorf.compile = cached_compile(compile_pymc, extra=model.check_bounds)
    try:
        n_dim, _, logp_pt, expand_pt, initial_flat, shape_info, transformed = _make_functions(
            model,
            mode="NUMBA",
            compute_grad=True,
            join_expanded=True,
            pymc_initial_point_fn=initial_point,
        )
    finally:
        pm.pytensorf.compile = compile_pymc
    logp_fn, expand_fn = logp_pt.vm.jit_fn, expand_pt.vm.jit_fn
    logp_data = [np.array(v.get_value(), order="C") for v in logp_pt.get_shared()]
    expand_data = [np.array(v.get_value(), order="C") for v in expand_pt.get_shared()]
    names, slices, shapes = shape_info

    def logp(x):
        return logp_fn(x, *logp_data)

    def expand(x):
        (flat,) = expand_fn(x, *expand_data)
        return {
            name: flat[at].reshape(shape)
            for name, at, shape in zip(names, slices, shapes, strict=True)
        }

    point = initial_flat(0)  # a writable float64 array, the type nutpie passes
    logp(point)
    expand(point)
    dims, coords = _prepare_dims_and_coords(model, shape_info, transformed)
    return from_pyfunc(
        ndim=n_dim,
        make_logp_fn=lambda: logp,
        make_expand_fn=lambda *_seeds_and_chain: expand,
        make_initial_point_fn=initial_flat,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        dims=dims,
        coords=coords,
        reparameterized_names=transformed,
    )


def _sample_nutpie(
    model: pm.Model, settings: SamplerSettings, seed: int, reuse: CompiledModel | None
) -> xr.DataTree:
    """Compile (or reuse) and sample with nutpie as ``pm.sample`` does, timing the two apart.

    The times go to the ``sample_stats`` attributes ``compile_time`` and ``sampling_time``
    (seconds; sampling includes tuning).
    """
    import nutpie  # here, not above: numba's import costs every job that only reads fits 1 s

    start = time.perf_counter()
    if reuse is not None and reuse.compiled is not None:
        # data the log-density does not read (kept for post-processing) are not in it
        used = {var.name for var in reuse.compiled.shared_var_keys}
        compiled = reuse.compiled.with_data(
            **{v.name: v.get_value() for v in model.data_vars if v.name in used}
        )
    elif reuse is None and settings.cores == 1:
        compiled = compile_python_callbacks(model)
    else:
        compiled = nutpie.compile_pymc_model(model, backend="numba")
        if reuse is not None:
            reuse.compiled = compiled
    compiled_at = time.perf_counter()
    tree = nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.cores,
        seed=seed,
        target_accept=settings.target_accept,
        maxdepth=settings.max_treedepth,
        adaptation=settings.adaptation,
        progress_bar=False,
    )
    sampling_time = time.perf_counter() - compiled_at
    patch_nutpie_idata(tree, model, sampling_time=sampling_time)
    tree["sample_stats"].attrs["compile_time"] = compiled_at - start
    tree["sample_stats"].attrs["sampling_time"] = sampling_time
    return tree
