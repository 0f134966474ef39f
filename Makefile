# The two commands of the README: `make run` and `make test`. Everything else is optional.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.il6fit-installed
CORES ?= all
# `make run CONFIG=my.yaml` runs your own config instead of config/config.yaml.
CONFIG ?=
RUN_CONFIG := $(if $(CONFIG),--configfile $(CONFIG) --replace-workflow-config,)

.PHONY: run test test-slow report lock setup calibrate-simulator recovery calibrate

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock tools/setup.sh
	bash tools/setup.sh $(VENV)

## Run the whole pipeline on the default (simulated) data; results/report.html at the end.
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

## Snakemake's own interactive report of the last run.
report: $(STAMP)
	$(BIN)/snakemake --report report.zip $(RUN_CONFIG)

## Simulation-based calibration of every model (results/calibration/; resumable).
calibrate: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(RUN_CONFIG) calibrate

## Regenerate docs/model-recovery.md (each model refitted to outcomes drawn from it).
recovery: $(STAMP)
	$(BIN)/python tools/recovery.py

## Regenerate docs/simulator-calibration.md (simulated vs published values).
calibrate-simulator: $(STAMP)
	$(BIN)/python tools/calibrate_simulator.py

lock:
	bash tools/lock.sh
