import copy
import functools
import json
import re
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from il6fit.catalogue import cached, code_digest, code_files, config_schema
from il6fit import settings
from il6fit.provenance import config_digest, derive_seed

# What the workflow knows of the model families, read from the registry (il6fit.models) and
# cached while the package's source is unchanged; the config schema gets their names, options
# and calibration designs from it.
CATALOGUE = cached(".snakemake/il6fit")
FAMILIES = CATALOGUE["families"]
MODEL_NAMES = tuple(FAMILIES)
# written as JSON, which Snakemake reads in a millisecond (YAML: a quarter to half a second of
# every start, a no-change rerun included); libyaml's loader where PyYAML has it
_SCHEMA = Path(".snakemake/il6fit/config.schema.json").resolve()
_SCHEMA.write_text(
    json.dumps(
        config_schema(
            yaml.load(
                Path(
                    workflow.basedir, "workflow/schemas/config.schema.yaml"
                ).read_text(),
                Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader),
            ),
            CATALOGUE,
        ),
        indent=1,
        sort_keys=True,  # as PyYAML wrote it: defaults fill in in the same order
    )
)
validate(config, str(_SCHEMA), set_default=True)


def _plain(value):
    """A value with its ordered dictionaries (JSON schema defaults) as plain ones."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# the defaults filled in are the schema's own objects, read as ordered dictionaries: plain
# ones, as a YAML config's, keep every parameter's and digest's text what it was
config.update(_plain(config))
_unknown = set(config["calibration"]["models"]) - {
    name for name, family in FAMILIES.items() if family["calibration"]
}
if _unknown:
    raise WorkflowError(
        f"calibration.models: {', '.join(sorted(_unknown))} declare no calibration; the "
        "calibrated models are "
        + ", ".join(name for name, f in FAMILIES.items() if f["calibration"])
        + "."
    )


def analysis_name():
    """The analysis's folder under results/: `name`, else the title made a folder name."""
    if "name" in config:
        return config["name"]
    words = re.sub(r"[^a-z0-9]+", " ", config["title"].lower()).split()
    name = ""
    for word in words:
        if len(name) + len(word) > 40:
            break
        name = f"{name}-{word}" if name else word
    return name or "report"


#: The analysis: its run-level outputs (report, record, history, comparisons) go to RUN, their
#: logs under logs/<ANALYSIS>/.
ANALYSIS = analysis_name()
RUN = f"results/{ANALYSIS}"


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_-]*",
    model="[a-z0-9_]+",
    comparison="[A-Za-z0-9][A-Za-z0-9_-]*",


def check_variants_and_comparisons():
    """Stop with a clear message on a variant or comparison the schema cannot judge."""
    for name, variant in config["variants"].items():
        if name in MODEL_NAMES:
            raise WorkflowError(
                f"variants.{name}: the name of a model family; give the variant its own name."
            )
        # a variant's options must be valid options of its model: check them in its place
        trial = copy.deepcopy(config)
        trial["model_options"][variant["model"]] = model_options(name)
        try:
            validate(trial, str(_SCHEMA))
        except WorkflowError as error:
            raise WorkflowError(f"variants.{name}.options: {error}") from None
    for name, comparison in config["comparisons"].items():
        if comparison["dataset"] not in config["datasets"]:
            raise WorkflowError(
                f"comparisons.{name}.dataset: no dataset '{comparison['dataset']}'; the "
                f"datasets are {', '.join(config['datasets'])}."
            )
        for model in comparison["models"]:
            if model not in MODEL_NAMES and model not in config["variants"]:
                raise WorkflowError(
                    f"comparisons.{name}.models: '{model}' is neither a model "
                    f"({', '.join(MODEL_NAMES)}) nor a variant under `variants`."
                )
        families = {family_name(model) for model in comparison["models"]}
        if len(families) > 1:
            raise WorkflowError(
                f"comparisons.{name}: models of different families ({', '.join(families)}) "
                "model different outcomes; leave-one-patient-out compares models (and "
                "variants) of one family."
            )


def family_name(model):
    """The model family of a model or variant name."""
    if model in config["variants"]:
        return config["variants"][model]["model"]
    if model not in FAMILIES:
        raise WorkflowError(
            f"unknown model '{model}'; choose one of {', '.join(MODEL_NAMES)}."
        )
    return model


def fit_pairs():
    """(model, dataset) of every fit: each dataset's own `models`, else the global list, then
    the models of every comparison (so each is judged and reported like any other fit).
    """
    pairs = [
        (model, dataset)
        for dataset, spec in config["datasets"].items()
        for model in spec.get("models", config["models"])
    ]
    for comparison in config["comparisons"].values():
        for model in comparison["models"]:
            if (model, comparison["dataset"]) not in pairs:
                pairs.append((model, comparison["dataset"]))
    return pairs


def fit_priority(wildcards):
    """A fit job's priority: above every other job's (fits compile for most of their time,
    the jobs after them take seconds each); the first fit of each model by how long its family
    compiles (FAMILIES[family]["compile_seconds"]), longest first, so few cores are never left
    with one long compilation at the end; a model's fits to other datasets after every first
    fit, as their compile caches start from the kernels of the first."""
    datasets = [dataset for model, dataset in fit_pairs() if model == wildcards.model]
    if wildcards.dataset in datasets[1:]:
        return 10
    return 11 + round(FAMILIES[family_name(wildcards.model)]["compile_seconds"])


def fit_targets(pattern, *, with_estimands=False):
    """A path pattern filled in for every fit (only models with estimands if asked)."""
    return [
        pattern.format(model=model, dataset=dataset)
        for model, dataset in fit_pairs()
        if not with_estimands or FAMILIES[family_name(model)]["estimands"]
    ]


def figure_targets():
    """The figure folder of every fit, where plot_figures draws <figure>.png and .svg for each
    figure of the fit's family (FAMILIES[family]["figures"])."""
    return fit_targets("results/figures/{model}/{dataset}")


def comparison_fits(wildcards):
    """The fits one comparison compares, in the order listed."""
    comparison = config["comparisons"][wildcards.comparison]
    return [
        f"results/fits/{model}/{comparison['dataset']}.nc"
        for model in comparison["models"]
    ]


def comparison_targets(pattern):
    """A path pattern filled in for every comparison."""
    return [pattern.format(comparison=name) for name in config["comparisons"]]


def calibration_results():
    """Calibration summaries and figures, when a calibration run has written them: per model
    folder under results/calibration/, its coverage table and figures (not the per-replicate
    ranks or batches)."""
    folder = Path("results/calibration")
    tables = [*folder.glob("coverage.csv"), *folder.glob("*/coverage.csv")]
    figures = [*folder.glob("*.png"), *folder.glob("*/*.png")]
    return sorted(str(p) for p in tables) + sorted(str(p) for p in figures)


def escalation(wildcards):
    """What a fit job needs to judge and refit itself under the `escalate` policy, else None.

    None under the other policies, so changing thresholds then reruns the checks, not the fits.
    """
    diagnostics = config["diagnostics"]
    if diagnostics["on_failure"] != "escalate":
        return None
    return {
        "thresholds": diagnostics["thresholds"],
        **diagnostics["escalation"],
    }


def job_seed(rule_name, **wildcards):
    """The seed of one job, derived from the global seed, the rule and its wildcards."""
    return derive_seed(config["seed"], rule_name, **wildcards)


#: Where each importer finds its source file when the dataset names no `path`.
IMPORT_PATHS = {
    "tongji": "../shared/data/tongji-covid19/time_series_375_prerpocess_en.xlsx",
}


def dataset_tables(wildcards):
    """The raw tables of a dataset: simulated, imported, or the user's files."""
    spec = config["datasets"][wildcards.dataset]
    for key, stage in (("simulate", "simulated"), ("import", "imported")):
        if key in spec:
            folder = f"results/{stage}/{wildcards.dataset}"
            return {
                "subjects": f"{folder}/subjects.csv",
                "measurements": f"{folder}/measurements.csv",
            }
    tables = {"subjects": spec["subjects"], "measurements": spec["measurements"]}
    if "dosing" in spec:
        tables["dosing"] = spec["dosing"]
    return tables


def fit_tables(wildcards):
    """The prepared tables a fit reads: the dosing records only for a family that uses them."""
    folder = f"results/prepared/{wildcards.dataset}"
    tables = {
        "subjects": f"{folder}/subjects.csv",
        "measurements": f"{folder}/measurements.csv",
    }
    if FAMILIES[family_name(wildcards.model)]["dosing"]:
        tables["dosing"] = f"{folder}/dosing.csv"
    return tables


def subject_columns(wildcards):
    """Subjects-table columns the dataset's models use, each with what uses it."""
    used = {}
    for model, dataset in fit_pairs():
        if dataset != wildcards.dataset:
            continue
        family = FAMILIES[family_name(model)]
        options = model_options(model)
        for option, columns in family["subject_columns"].items():
            chosen = options.get(
                option, family["options"]["properties"][option].get("default")
            )
            for value in chosen if isinstance(chosen, list) else [chosen]:
                if value in columns:
                    key = (
                        f"variants.{model}.options"
                        if model in config["variants"]
                        else f"model_options.{model}"
                    )
                    where = f"{key}.{option}: {value}"
                    used.setdefault(columns[value], where)
    return used


def import_source(wildcards):
    """The source file of an imported dataset."""
    spec = config["datasets"][wildcards.dataset]
    return spec.get("path", IMPORT_PATHS[spec["import"]])


def dataset_source(dataset):
    """Where a dataset comes from, in words, for the report."""
    spec = config["datasets"][dataset]
    if "simulate" in spec:
        return f"simulated, scenario {spec['simulate']['scenario']}"
    if "import" in spec:
        return f"imported ({spec['import']}) from {spec.get('path', IMPORT_PATHS[spec['import']])}"
    if "dosing" in spec:
        return (
            f"{spec['subjects']}, {spec['measurements']} and {spec['dosing']} (dosing)"
        )
    return f"{spec['subjects']} and {spec['measurements']}"


def fit_config(wildcards):
    """The config that determines one fit: recorded in the fit and a rerun trigger."""
    return {
        "seed": config["seed"],
        "dataset": {
            key: value
            for key, value in config["datasets"][wildcards.dataset].items()
            if key != "models"
        },
        "prepare": config["prepare"],
        "model_options": model_options(wildcards.model),
        "sampler": sampler_settings(wildcards.model),
    }


def sampler_settings(model):
    """The sampler settings of one model's or variant's fits (il6fit.settings merges them)."""
    return settings.sampler_settings(config, model)


def model_options(model):
    """A model's or variant's options, priors included (il6fit.settings merges them)."""
    return settings.model_options(config, model)


check_variants_and_comparisons()


def calibration_design(model):
    """A model's calibration design: the config's, else the one its family declares."""
    designs = config["calibration"].get("designs", {})
    return designs.get(model, FAMILIES[model]["calibration"])


def code_version(script, model=None, *, figures=False):
    """Digest of the code a job runs: its script and the il6fit modules it imports, plus the
    module of the model family it fits (and what that imports). The figure helpers
    (il6fit.plots) count only for figure jobs. Jobs rerun when it changes, and a script
    touched but unchanged reruns nothing (the workflow profile leaves out Snakemake's
    modification-time trigger for code)."""
    return _code_version(script, family_name(model) if model else None, figures)


@functools.lru_cache
def _code_version(script, family, figures):
    """code_version, computed once per script, family and kind of job."""
    modules = [FAMILIES[family]["module"]] if family else []
    files = code_files(
        modules,
        scripts=[Path(workflow.basedir, "workflow/scripts", script)],
        exclude=() if figures else ("il6fit.plots",),
        imports=CATALOGUE["imports"],
    )
    return code_digest(files)


def calibration_replicates(model):
    """A model's number of calibration replicates: its own, else the shared one."""
    spec = config["calibration"]
    return spec["model_replicates"].get(model, spec["replicates"])


def calibration_batch_size(model):
    """Replicates per batch job of a model: model_batch_size, else batch_size."""
    calibration = config["calibration"]
    return calibration["model_batch_size"].get(model, calibration["batch_size"])


def calibration_batches(model):
    """Batch numbers of a model's calibration: replicates 0..R-1 in batches."""
    return range(-(-calibration_replicates(model) // calibration_batch_size(model)))


def batch_replicates(wildcards):
    """The replicate numbers of one batch (the last batch may be shorter)."""
    size = calibration_batch_size(wildcards.model)
    first = int(wildcards.batch) * size
    replicates = calibration_replicates(wildcards.model)
    if first >= replicates:
        last = len(calibration_batches(wildcards.model)) - 1
        raise ValueError(
            f"calibration batch {wildcards.batch} of {wildcards.model} holds no replicate: "
            f"its {replicates} replicates, {size} a batch, are batches 0-{last}; ask for "
            "one of those, or raise calibration.model_replicates."
        )
    return list(range(first, min(first + size, replicates)))
