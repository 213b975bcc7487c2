# Each target does all of its own setup on a fresh machine.
#   make table1   set up, then build results/table1.csv with the tiny preset
#   make test     set up, then run the test suite
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup table1 report test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

table1: setup
	snakemake --cores all results/table1.csv results/claims.csv

report: table1
	snakemake --report report.html results/table1.csv

test: setup
	python -m pytest

clean:
	rm -rf results/c2i results/table1.* results/figures results/config.yaml logs benchmarks .snakemake
