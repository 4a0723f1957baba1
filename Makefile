# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --constraint constraints.txt
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --quiet --upgrade pip
	$(PIP) --quiet -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/mlpkit train

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: lint
	$(BIN)/python -m pytest

bench: install
	$(PIP) --quiet -e ".[dev,bench]"
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/epoch_costs.py
	$(BIN)/python benchmarks/batching.py
	$(BIN)/python benchmarks/inference.py

clean:
	rm -rf $(VENV) runs .pytest_cache
