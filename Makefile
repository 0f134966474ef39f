# The two commands of the README: `make run` and `make test`. Everything else is optional.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.il6fit-installed
CORES ?= all
# `make run CONFIG=my.yaml` runs your own config instead of config/config.yaml.
CONFIG ?=
RUN_CONFIG := $(if $(CONFIG),--configfile $(CONFIG) --replace-workflow-config,)

# `make test-cluster`: the config and targets run through SLURM and locally, then compared.
CLUSTER_CONFIG ?= tests/cluster/config.yaml
CLUSTER_TARGETS ?= calibrate results/summaries/il6_crp/trial.csv results/summaries/il6_crp/controls.csv

.PHONY: run test test-slow test-cluster report lock setup calibrate-simulator recovery \
	recovery-repeat calibrate

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock tools/setup.sh
	bash tools/setup.sh $(VENV)

## Run the whole pipeline on the default (simulated) data; results/default/report.html at the end.
run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(RUN_CONFIG)

## Lint everything and run the default test suite (what CI runs).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint
	$(BIN)/pytest

## Long checks: parameter recovery and calibration.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

## The workflow through a real one-node SLURM (started and stopped here; root, installs Debian's
## slurm-wlm, munge, MariaDB if missing) against a local run of the same config.
test-cluster: $(STAMP)
	bash tests/cluster/run.sh $(CLUSTER_CONFIG) $(CLUSTER_TARGETS)

## Snakemake's own interactive report of the last run.
report: $(STAMP)
	$(BIN)/snakemake --report report.zip $(RUN_CONFIG)

## Simulation-based calibration of every model (results/calibration/; resumable).
calibrate: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(RUN_CONFIG) calibrate

## Regenerate docs/model-recovery.md (each model refitted to outcomes drawn from it).
recovery: $(STAMP)
	$(BIN)/python tools/recovery.py

## Repeat the recovery studies at their truth on 50 trials each (about 2 hours on 2 cores;
## resumable: results/recovery/), then rewrite docs/model-recovery-repeated.md. More trials of
## one model: `make recovery-repeat MODELS=disease_activity SEEDS=1050:1100`.
MODELS ?=
SEEDS ?= 1000:1050
recovery-repeat: $(STAMP)
	$(BIN)/python tools/recovery_repeat.py $(MODELS) --seeds $(SEEDS)

## Regenerate docs/simulator-calibration.md (simulated vs published values).
calibrate-simulator: $(STAMP)
	$(BIN)/python tools/calibrate_simulator.py

lock:
	bash tools/lock.sh
