# Slipway: `make serve` runs the main job, `make test` every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,convert,aws,torch,keras,flask,local,bench

.PHONY: setup serve test lint typecheck unit bench example clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

example: setup
	$(BIN)/slipway example

# The local platform on https://127.0.0.1:8443 (first run: builds and publishes digits).
serve: example
	$(BIN)/slipway serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy functions model_store infra

unit: setup
	$(BIN)/pytest -q

test: lint typecheck unit

bench: example
	$(BIN)/python bench/core.py
	$(BIN)/python -m bench.suite

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
