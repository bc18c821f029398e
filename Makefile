# The README's two commands: `make repro` (set up, run the pipeline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# dvc runs each stage's `python -m ...` through the shell: it must find the venv's python.
export PATH := $(BIN):$(PATH)

.PHONY: repro test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

repro: $(VENV)/.installed
	dvc repro

test: $(VENV)/.installed-test
	pytest

lint: $(VENV)/.installed-test
	ruff check .
	ruff format --check .

format: $(VENV)/.installed-test
	ruff check --fix .
	ruff format .

# The benchmark against the reference notebook (~7 min); results in bench/results/.
bench: $(VENV)/.installed
	python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
