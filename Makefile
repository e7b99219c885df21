# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MLDS_HOME ?= $(CURDIR)/var
# pytest-xdist workers for `make test` (how the suite is shared out: mlds_assets_tests/conftest.py)
TEST_WORKERS ?= 2
export MLDS_HOME

.PHONY: install demo test dev bench lint validate clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.py pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Debian packages some tests use (a headless browser for the report and /docs, a PostgreSQL server for the
# Postgres instance profile). Needs root and apt-get; without them those tests skip, saying why.
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null \
		|| echo "system-deps: apt-get failed; the browser and Postgres tests will skip, saying why"; \
	else echo "system-deps: not root or no apt-get; install chromium and postgresql yourself"; fi

demo: install
	$(BIN)/mlds demo

test: install
	$(BIN)/ruff check .
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=15

dev: install
	$(BIN)/mlds instance
	DAGSTER_HOME=$(MLDS_HOME)/dagster_home $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

bench: install
	$(BIN)/python -m benchmarks

validate: install
	mkdir -p $(MLDS_HOME)/dagster_home
	DAGSTER_HOME=$(MLDS_HOME)/dagster_home $(BIN)/dagster definitions validate -w workspace.yaml

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
