# Each target does all of its own setup on a fresh machine.
#   make table1   set up, then build results/table1.csv (class-to-image) with the tiny preset
#   make table2   set up, then build results/table2.csv (text-to-image) with the tiny preset
#   make all      both tables, claims.csv, every figure
#   make test     set up, then run the test suite
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup table1 table2 all report test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

table1: setup
	snakemake --cores all results/table1.csv

table2: setup
	snakemake --cores all results/table2.csv

all: setup
	snakemake --cores all all

report: all
	snakemake --report report.html all

test: setup
	python -m pytest

clean:
	rm -rf results/c2i results/t2i results/table1.* results/table2.* results/claims.csv results/figures \
		results/configs logs benchmarks .snakemake
