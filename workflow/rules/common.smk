from snakemake.utils import validate

from il6fit.models import get_model
from il6fit.provenance import derive_seed

validate(config, "../schemas/config.schema.yaml", set_default=True)
_undesigned = set(config["calibration"]["models"]) - set(
    config["calibration"]["designs"]
)
if _undesigned:
    raise ValueError(
        "calibration.designs has no design for "
        f"{', '.join(sorted(_undesigned))}: add one (scenario and n_subjects) or remove the "
        "model from calibration.models."
    )


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_-]*",
    model="[a-z0-9_]+",


def fit_pairs():
    """(model, dataset) of every fit: each dataset's own `models`, else the global list."""
    return [
        (model, dataset)
        for dataset, spec in config["datasets"].items()
        for model in spec.get("models", config["models"])
    ]


def fit_targets(pattern, *, with_estimands=False):
    """A path pattern filled in for every fit (only models with estimands if asked)."""
    return [
        pattern.format(model=model, dataset=dataset)
        for model, dataset in fit_pairs()
        if not with_estimands or get_model(model).estimands is not None
    ]


def figure_targets(ext):
    """Every figure of every fit, with the given extension."""
    return [
        f"results/figures/{model}/{dataset}/{figure}.{ext}"
        for model, dataset in fit_pairs()
        for figure in get_model(model).figures
    ]


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
    return {"subjects": spec["subjects"], "measurements": spec["measurements"]}


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
    """The sampler settings of one model's fits: the shared ones with its overrides applied."""
    shared = {key: value for key, value in config["sampler"].items() if key != "models"}
    return {**shared, **config["sampler"].get("models", {}).get(model, {})}


def model_options(model):
    """A model's options from the config (priors and analysis-table options)."""
    get_model(model)
    return config["model_options"].get(model, {})


def calibration_batches(model):
    """Batch numbers of a model's calibration: replicates 0..R-1 in batches of batch_size."""
    spec = config["calibration"]
    return range(-(-spec["replicates"] // spec["batch_size"]))


def batch_replicates(wildcards):
    """The replicate numbers of one batch (the last batch may be shorter)."""
    spec = config["calibration"]
    first = int(wildcards.batch) * spec["batch_size"]
    return list(range(first, min(first + spec["batch_size"], spec["replicates"])))
