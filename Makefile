# The README's two commands: `make repro` (set up, run the pipeline) and `make test`.
# Setup installs exactly uv.lock's versions into .venv with uv, itself pinned and
# bootstrapped with pip into .tools/ (the machine needs only Python 3.11-3.13).
PYTHON ?= python3
VENV ?= .venv
UV_VERSION := 0.13.9
UV := .tools/bin/uv
BIN := $(abspath $(VENV))/bin
# dvc runs each stage's `python -m ...` through the shell: it must find the venv's python.
export PATH := $(BIN):$(PATH)
export UV_PROJECT_ENVIRONMENT := $(VENV)
# This machine's Python, never a downloaded one.
export UV_PYTHON_DOWNLOADS := never
# Compile .pyc files at install, as pip does: where PYTHONDONTWRITEBYTECODE is set, Python
# never writes them itself, and every stage would compile TensorFlow's modules at import.
export UV_COMPILE_BYTECODE := 1

.PHONY: repro test lint format bench bench-scale bench-accuracy bench-tune bench-hostile upgrade clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# `uv sync` makes the venv exactly the lock: the test target installs the test extra too,
# and marks both synced, so `make repro` after `make test` keeps the test tools.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --python $(PYTHON)
	touch $@

$(VENV)/.synced-test: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --python $(PYTHON) --extra test
	touch $@ $(VENV)/.synced

repro: $(VENV)/.synced
	dvc repro

test: $(VENV)/.synced-test
	pytest

lint: $(VENV)/.synced-test
	ruff check .
	ruff format --check .

format: $(VENV)/.synced-test
	ruff check --fix .
	ruff format .

# The benchmark against the reference notebook; results in bench/results/, tables in docs/.
bench: $(VENV)/.synced
	python -m bench.run

# The pipeline at 1x, 8x and 32x MNIST's training split (augmented), FnApiRunner and Dask.
bench-scale: $(VENV)/.synced-test
	python -m bench.scale

# The model and augmentation accuracy the docs quote (the CNN's five epochs are most of it).
bench-accuracy: $(VENV)/.synced
	python -m bench.accuracy

# The MLP study tune.yaml defines, 20 trials 2 at a time, and a trial's overhead.
bench-tune: $(VENV)/.synced
	python -m bench.tune

# Peak memory of mnist-predict and ingest on the worst inputs found (after make repro).
bench-hostile: $(VENV)/.synced
	python -m bench.hostile

# Every dependency to its newest release within pyproject.toml's ranges; then `make test`.
upgrade: | $(UV)
	$(UV) lock --upgrade

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache
