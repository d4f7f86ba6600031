# telmark — everything starts from a fresh machine with Python >= 3.11 and make.
#   make demo    set up, build a 200k-subscriber province, serve the console
#   make test    set up and run the whole test suite
#   make lint    ruff + mypy (strict)
#   make bench   performance benchmarks, written to benchmarks/RESULTS.md

SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "telmark needs Python >= 3.11 on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/telmark demo

test: install
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: install
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_segments.py
	$(BIN)/python benchmarks/bench_smpp.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
