# The README's two commands: `make repro` (set up, run the pipeline) and `make test`.
# Setup installs exactly uv.lock's versions into .venv with uv, itself pinned and
# bootstrapped with pip (the machine needs only Python 3.11-3.13).
PYTHON ?= python3
VENV ?= .venv
UV_VERSION := 0.13.9
# Kept between clones, like pip's and uv's own caches: the pinned uv, and the bytecode of
# what the pipeline imports (below).
CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mnist-pipeline
UV := $(CACHE)/uv-$(UV_VERSION)/bin/uv
BIN := $(abspath $(VENV))/bin
BYTECODE = $(CACHE)/bytecode/$(shell $(PYTHON) -c "import hashlib; print(hashlib.sha256(open('uv.lock', 'rb').read()).hexdigest()[:16])")
# dvc runs each stage's `python -m ...` through the shell: it must find the venv's python.
export PATH := $(BIN):$(PATH)
export UV_PROJECT_ENVIRONMENT := $(VENV)
# This machine's Python, never a downloaded one.
export UV_PYTHON_DOWNLOADS := never
# Python writes the bytecode of what it imports, as it does by default, even where the machine
# sets PYTHONDONTWRITEBYTECODE: else every stage would compile TensorFlow's modules at every
# import. Written as they are first imported, not all at install (uv's --compile-bytecode
# compiles every installed file, several times what the pipeline imports), and linked from
# CACHE into a new clone's venv: its installed files are uv's cached ones, of the same size
# and time, so the bytecode holds (Python checks both, and compiles anew what differs).
export PYTHONDONTWRITEBYTECODE :=
define LINK_BYTECODE
import os, shutil, sys, sysconfig
from pathlib import Path
site, cache = Path(sysconfig.get_path("purelib")), Path(sys.argv[2])
source, target = (cache, site) if sys.argv[1] == "in" else (site, cache)
for pyc in source.rglob("*.pyc") if source.is_dir() else ():
    linked = target / pyc.relative_to(source)
    module = linked.parent.parent / (pyc.name.split(".")[0] + ".py")
    if target == site and not module.exists():
        continue  # not installed here: a folder of bytecode alone would import as a package
    if not linked.exists():
        linked.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(pyc, linked)
        except OSError:  # another file system
            shutil.copy2(pyc, linked)
endef
export LINK_BYTECODE
# The tools' imports, for their bytecode: this -c is a process entry point, so it quiets
# TensorFlow's start-up lines as the stages' and tools' own do (pipeline.startup), where
# TF_CPP_MIN_LOG_LEVEL alone leaves those printed before absl's logging is set up.
define IMPORT_TOOLS
from pipeline import startup
startup.set_tensorflow_log_level()
with startup.quiet_native_startup():
    import dvc.cli, keras, tools.push, tools.predict.cli
endef
export IMPORT_TOOLS

.PHONY: setup repro test chromium lint format bench bench-scale bench-accuracy bench-tune bench-tune-shared bench-own-data bench-small-folder bench-persist bench-setup bench-labels bench-hostile bench-photos bench-predict bench-serve upgrade clean

$(UV):
	$(PYTHON) -m venv $(CACHE)/uv-$(UV_VERSION)
	$(CACHE)/uv-$(UV_VERSION)/bin/python -m pip install --quiet --disable-pip-version-check \
		"uv==$(UV_VERSION)"

# `uv sync` makes the venv exactly the lock: the test target installs the test extra too,
# and marks both synced, so `make repro` after `make test` keeps the test tools.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --python $(PYTHON)
	-$(BIN)/python -c "$$LINK_BYTECODE" in $(BYTECODE)
	touch $@

$(VENV)/.synced-test: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --quiet --python $(PYTHON) --extra test
	-$(BIN)/python -c "$$LINK_BYTECODE" in $(BYTECODE)
	touch $@ $(VENV)/.synced

# The venv alone (a teammate's clone, say), with pyproject.toml's optional extras if
# named: `make setup EXTRAS=dask` for the Dask runner. Later targets keep them. The tools
# are imported once, so their bytecode is written for commands run outside make.
setup: | $(UV)
	$(UV) sync --locked --quiet --python $(PYTHON) $(addprefix --extra ,$(EXTRAS))
	-$(BIN)/python -c "$$LINK_BYTECODE" in $(BYTECODE)
	$(BIN)/python -c "$$IMPORT_TOOLS"
	touch $(VENV)/.synced

repro: $(VENV)/.synced
	dvc repro
	-$(BIN)/python -c "$$LINK_BYTECODE" out $(BYTECODE)

test: $(VENV)/.synced-test chromium
	pytest
	-$(BIN)/python -c "$$LINK_BYTECODE" out $(BYTECODE)

# The page's browser test drives Debian's Chromium (tests/support/browser.py): installed here
# when missing, with apt-get (as root, else through sudo), its output kept in a log shown
# only if the install fails. It fails `make test` in CI; elsewhere the browser test skips.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@[ -x $(CHROMIUM) ] || { \
		echo "installing Debian's chromium for the page's browser test (apt-get)"; \
		as_root=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); log=$$(mktemp); \
		{ $$as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$as_root \
			apt-get install -y -qq --no-install-recommends chromium; } >"$$log" 2>&1 \
		&& [ -x $(CHROMIUM) ] && rm -f "$$log" || { \
		if [ -n "$$CI" ]; then cat "$$log" >&2; rm -f "$$log"; \
			echo "cannot install chromium (above); as root: apt-get install chromium" >&2; exit 1; fi; \
		rm -f "$$log"; echo "cannot install chromium (not root, no sudo?): the page's browser test will skip"; }; }

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

# One small study on SQLite, on PostgreSQL, and from two clones at once (docs/tuning.md).
bench-tune-shared: $(VENV)/.synced
	python -m bench.tune_shared

# A second fresh clone's `make repro` (caches warm) against a cold `dvc repro`.
bench-setup: $(VENV)/.synced
	python -m bench.setup

# What persist: true (outputs kept when a stage fails) costs against DVC's default.
bench-persist: $(VENV)/.synced
	python -m bench.persist

# Folder datasets: MNIST as PNG files against the IDX route, scikit-learn's 8x8 digits.
bench-own-data: $(VENV)/.synced-test
	python -m bench.own_data

# The label audit against labels flipped on purpose, and real MNIST's own doubted test digits.
bench-labels: $(VENV)/.synced
	python -m bench.labels

# docs/own-data.md's small-folder recipe against the defaults, on shapes drawn with 5 seeds.
bench-small-folder: $(VENV)/.synced
	python -m bench.small_folder

# Peak memory of mnist-predict and ingest on the worst inputs found (after make repro).
bench-hostile: $(VENV)/.synced
	python -m bench.hostile

# mnist-predict on photos of MNIST test digits and printed ones, against the clean scans
# (after make repro: the served model).
bench-photos: $(VENV)/.synced
	python -m bench.photos

# mnist-predict's speed on LiteRT against the SavedModel: one image, a folder of 1,000.
bench-predict: $(VENV)/.synced
	python -m bench.predict

# mnist-serve under Locust's load (8 and 32 clients, 60 s each; SERVE_BENCH_SECONDS=5 for a
# smoke run), three versions pushed meanwhile, against LiteRT alone in one process.
bench-serve: $(VENV)/.synced-test
	python -m bench.serve

# Every dependency to its newest release within pyproject.toml's ranges; then `make test`.
upgrade: | $(UV)
	$(UV) lock --upgrade

# The project's own: CACHE (the pinned uv, shared bytecode) stays, like pip's and uv's caches.
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
