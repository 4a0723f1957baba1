# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --constraint constraints.txt
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format bench bench-quality clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --quiet --upgrade pip
	$(PIP) --quiet -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/mlpkit train

lint: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

format: install
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

test: lint
	$(BIN)/python -m pytest

bench: install
	$(PIP) --quiet -e ".[dev,bench]"
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/epoch_costs.py
	$(BIN)/python benchmarks/batching.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/busy.py
	$(BIN)/python benchmarks/large_table.py
	$(BIN)/python benchmarks/distributed.py
	$(BIN)/python benchmarks/stacked.py
	$(BIN)/python benchmarks/cv.py
	$(BIN)/python benchmarks/tune_parallel.py

# The defaults' quality against scikit-learn, LightGBM and RealMLP-TD (benchmarks/QUALITY.md).
bench-quality: install
	$(PIP) --quiet -e ".[dev,bench]"
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(VENV) runs .pytest_cache
