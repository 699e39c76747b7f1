# One command per job on a fresh machine: `make demo` (set up, then pretrain and evaluate the offline demo) and
# `make test` (set up, then the test suite CI runs). `make setup` alone makes the virtual environment: the CPU torch
# wheel first (a bare `torch` requirement would pull a multi-GB CUDA build), then this package with its test extras.
# Bring your own (CUDA) torch by installing it into $(VENV) before `make setup`, or use the pip lines of the README.

VENV ?= .venv
PYTHON := $(VENV)/bin/python
TORCH ?= torch==2.13.0
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

.PHONY: setup demo test lint

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install --quiet $(TORCH)
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(OFFLINE) $(VENV)/bin/accelerate launch train/pretrain.py

test: setup
	$(OFFLINE) $(PYTHON) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
