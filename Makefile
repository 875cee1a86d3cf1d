# make demo: set up (venv, requirements, Fashion-MNIST) and run the demo (autoal, margin, random).
# make test: set up and run the whole test suite (ruff included).
# Another interpreter: make test PYTHON=python3.12 VENV=.venv312 (current JAX needs >= 3.12).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
WORKDIR ?= runs/demo

.PHONY: setup data demo test lint format clean

$(VENV)/.installed: requirements.txt setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "autoal_jax needs Python >= 3.10"'
	@if ! $(PYTHON) -m venv $(VENV) 2>/dev/null; then \
	  echo "python3 -m venv failed (Debian ships venv separately): installing python3-venv"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv; \
	  elif sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; \
	  else echo "error: run 'sudo apt-get install python3-venv' and retry"; exit 1; fi; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

setup: $(VENV)/.installed data

# Fashion-MNIST from Debian's package (the full 60k/10k set, MIT licence), when we may.
data:
	@if [ -f $(FASHION_MNIST) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	elif sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq dataset-fashion-mnist; \
	else echo "note: Fashion-MNIST is not installed and this user may not apt-get; run" \
	  "'sudo apt-get install dataset-fashion-mnist' (or prepare it with tfds). Tests that need it skip."; fi

demo: setup
	$(PY) -m experiments.main --config=experiments/configs/demo.py --workdir=$(WORKDIR)

lint: $(VENV)/.installed
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: $(VENV)/.installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# One worker more than the cores: the CLI and benchmark tests wait on subprocesses, and a
# third worker fills those waits (2 cores, 2026-12-04: 184-191% of the CPUs busy with 2
# workers, 197% with 3; README "Tests" gives the times).
WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

test: setup lint
	$(PY) -m pytest tests -n $(WORKERS) --durations=15

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
