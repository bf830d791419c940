# One target per job; CI (.ci/run) and people use the same ones.
# Each target installs what it needs into .venv first, so every one works on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DATA ?= .demo-data
PYTEST_ARGS ?=

.PHONY: demo test check bench clean

# Re-installs only when the dependency list changed.
$(VENV)/.stamp-install: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.stamp-install
	$(BIN)/fieldhub up --demo --data-dir $(DEMO_DATA)

test: $(VENV)/.stamp-install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(VENV)/.stamp-install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Ingest (single readings, then batches of 100) and the edge agent; each run measures its own baseline.
bench: $(VENV)/.stamp-install
	$(BIN)/fieldhub bench ingest --messages 20000
	$(BIN)/fieldhub bench ingest --messages 2000 --batch 100
	$(BIN)/fieldhub bench agent

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .mypy_cache .ruff_cache .hypothesis
