# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MLDS_HOME ?= $(CURDIR)/var
export MLDS_HOME

.PHONY: install demo test dev bench lint validate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.py pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/mlds demo

test: install
	$(BIN)/ruff check .
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

dev: install
	$(BIN)/mlds instance
	DAGSTER_HOME=$(MLDS_HOME)/dagster_home $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: install
	$(BIN)/python -m mlds_assets.bench

validate: install
	mkdir -p $(MLDS_HOME)/dagster_home
	DAGSTER_HOME=$(MLDS_HOME)/dagster_home $(BIN)/dagster definitions validate -w workspace.yaml

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
