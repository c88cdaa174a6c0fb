# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 4
# One target per lint tool, so that `make -k lint` (as .ci/run runs it) reports every finding.
LINTS := lint-ruff lint-ruff-format lint-snakefmt lint-snakemake lint-hadolint

.PHONY: setup run test lint $(LINTS) format clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/snakemake --cores $(CORES) $(ARGS)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(LINTS)

lint-ruff: setup
	$(BIN)/ruff check .

lint-ruff-format: setup
	$(BIN)/ruff format --check .

lint-snakefmt: setup
	$(BIN)/snakefmt --check Snakefile workflow/rules

lint-snakemake: setup
	$(BIN)/snakemake --lint --cores 1

lint-hadolint: setup
	$(BIN)/hadolint containers/*/Dockerfile

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile workflow/rules

clean:
	rm -rf results .snakemake
