"""Storage: what a saved fit holds and how it is written and read.

A fit on disk is an ``xarray.DataTree`` in NetCDF that describes itself: the groups
:class:`StorePolicy` keeps, the analysis table it was fitted to (:func:`table_dataset`, read back
with the family and options by :func:`fitted_inputs`) and provenance in root attributes
(:func:`annotate`, :data:`PROVENANCE`, format version :data:`FIT_FORMAT`). :func:`save` writes
it, :func:`load` reads it and refuses a fit of another format, model or dataset, and
:func:`rows_used` and :func:`fit_metadata` read what the report needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import xarray as xr

from il6fit.errors import SpecError
from il6fit.models import ModelFamily, get_model
from il6fit.provenance import canonical_json, package_versions
from il6fit.sampling import SamplerSettings


@dataclass(frozen=True)
class StorePolicy:
    """Which groups a saved fit keeps (``prior`` covers the prior predictive too)."""

    log_likelihood: bool = True
    log_prior: bool = True
    posterior_predictive: bool = True
    observed_data: bool = True
    prior: bool = True


def table_dataset(table: pd.DataFrame) -> xr.Dataset:
    """Return an analysis table as a dataset with dimension ``row``, to be stored in a fit.

    Parameters
    ----------
    table : pandas.DataFrame
        The table.

    Returns
    -------
    xarray.Dataset
    """
    return xr.Dataset({name: ("row", table[name].to_numpy()) for name in table.columns})


def fitted_inputs(tree: xr.DataTree) -> tuple[ModelFamily, object, pd.DataFrame]:
    """Return what a fit was made from, read from the fit itself.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit written by the workflow (see :func:`load`).

    Returns
    -------
    family : ModelFamily
        Its model family.
    options : dataclass instance
        The family's resolved options.
    table : pandas.DataFrame
        The analysis table it was fitted to.
    """
    family = get_model(tree.attrs["il6fit_family"])
    stored = json.loads(tree.attrs["il6fit_options"])
    table = tree["analysis_table"].to_dataset().to_dataframe().reset_index(drop=True)
    return family, family.make_options(stored["options"]), table


def annotate(
    tree: xr.DataTree,
    *,
    model: str,
    family: str,
    dataset: str,
    seed: int,
    settings: SamplerSettings,
    config: Mapping,
    inputs: Mapping[str, str],
) -> xr.DataTree:
    """Record provenance in a fit's root attributes.

    Parameters
    ----------
    tree : xarray.DataTree
        The fit.
    model, dataset : str
        Names from the config (a model may be a variant).
    family : str
        The model family.
    seed : int
        The job's seed.
    settings : SamplerSettings
        Sampler options used.
    config : mapping
        The whole run config.
    inputs : mapping of str to str
        Input file to SHA-256.

    Returns
    -------
    xarray.DataTree
        The same tree, with attributes ``il6fit_*`` set (structured values as JSON text);
        ``il6fit_sampler`` holds the settings of the last attempt when the fit was escalated.
    """
    attempts = json.loads(tree.attrs.get("il6fit_attempts", "[]"))
    if attempts:
        last = attempts[-1]
        settings = replace(settings, tune=last["tune"], target_accept=last["target_accept"])
    tree.attrs.update(
        {
            "il6fit_model": model,
            "il6fit_family": family,
            "il6fit_format": FIT_FORMAT,
            "il6fit_dataset": dataset,
            "il6fit_seed": int(seed),
            "il6fit_sampler": canonical_json(asdict(settings)),
            "il6fit_config": canonical_json(dict(config)),
            "il6fit_versions": canonical_json(package_versions()),
            "il6fit_input_hashes": canonical_json(dict(inputs)),
        }
    )
    return tree


def save(tree: xr.DataTree, path: str | Path, policy: StorePolicy = StorePolicy()) -> None:
    """Write a fit to NetCDF, keeping the groups the policy asks for.

    Parameters
    ----------
    tree : xarray.DataTree
        The fit.
    path : str or Path
        Output ``.nc`` file.
    policy : StorePolicy
        Which optional groups to keep.
    """
    keep = {
        "log_likelihood": policy.log_likelihood,
        "log_prior": policy.log_prior,
        "posterior_predictive": policy.posterior_predictive,
        "observed_data": policy.observed_data,
        "prior": policy.prior,
        "prior_predictive": policy.prior,
    }
    children = {
        name: node.to_dataset() for name, node in tree.children.items() if keep.get(name, True)
    }
    out = xr.DataTree.from_dict({"/": tree.to_dataset(), **children})
    out.attrs = dict(tree.attrs)
    out.to_netcdf(path, engine="netcdf4")


#: Version of what a saved fit holds; a fit of another version is refused by :func:`load`.
FIT_FORMAT = 3

#: Root attributes every saved fit has.
PROVENANCE = (
    "il6fit_model", "il6fit_family", "il6fit_dataset", "il6fit_seed", "il6fit_sampler",
    "il6fit_options", "il6fit_config", "il6fit_versions", "il6fit_input_hashes",
)  # fmt: skip


def load(path: str | Path, *, model: str | None = None, dataset: str | None = None) -> xr.DataTree:
    """Read a fit written by the workflow, fully into memory, and check its provenance.

    Parameters
    ----------
    path : str or Path
        The ``.nc`` file.
    model, dataset : str, optional
        The model and dataset the fit must be of.

    Returns
    -------
    xarray.DataTree

    Raises
    ------
    SpecError
        If the file lacks the provenance attributes or the analysis table, was written in
        another format version, or is a fit of another model or dataset.
    """
    with xr.open_datatree(path, engine="netcdf4") as tree:
        tree = tree.load()
    missing = [key for key in PROVENANCE if key not in tree.attrs]
    if "analysis_table" not in tree.children:
        missing.append("group analysis_table")
    if missing or tree.attrs.get("il6fit_format") != FIT_FORMAT:
        raise SpecError(
            f"{path}: not a fit of this il6fit version (format {FIT_FORMAT}"
            + (f"; no {', '.join(missing)}" if missing else "")
            + "). Delete it and rerun the workflow to refit."
        )
    for key, wanted in (("il6fit_model", model), ("il6fit_dataset", dataset)):
        if wanted is not None and tree.attrs[key] != wanted:
            raise SpecError(
                f"{path}: a fit of {key.removeprefix('il6fit_')} '{tree.attrs[key]}', not "
                f"'{wanted}'. Delete it and rerun the workflow."
            )
    return tree


def rows_used(tree: xr.DataTree, family: ModelFamily) -> int:
    """Count the analysis-table rows a fit used: the length of its outcome's first dimension.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit with ``observed_data``.
    family : ModelFamily
        Its model family.

    Returns
    -------
    int

    Raises
    ------
    SpecError
        If the fit holds none of the family's outcomes.
    """
    for name in family.observed:
        if name in tree["observed_data"].data_vars:
            return int(tree["observed_data"][name].shape[0])
    raise SpecError(f"the fit holds no outcome of {family.name} ({', '.join(family.observed)}).")


def fit_metadata(tree: xr.DataTree) -> dict:
    """Return a fit's provenance attributes with JSON values decoded.

    Parameters
    ----------
    tree : xarray.DataTree
        A fit written by :func:`save`.

    Returns
    -------
    dict
        Attribute name (without the ``il6fit_`` prefix) to value.
    """
    out = {}
    for key, value in tree.attrs.items():
        if key.startswith("il6fit_"):
            name = key.removeprefix("il6fit_")
            out[name] = json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value
    return out
