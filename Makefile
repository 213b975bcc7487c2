# Each target does all of its own setup on a fresh machine.
#   make table1   set up, then build results/table1.csv (class-to-image) with the tiny preset
#   make table2   set up, then build results/table2.csv (text-to-image) with the tiny preset
#   make all      both tables, claims.csv, every figure
#   make smoke    set up, then run every stage of both tracks for a few steps in .smoke/ (~5-9 min) and write
#                 its fingerprint (.smoke/fingerprint.json: sha256 of every weight, sample, metric and table)
#   make paper-smoke  set up, then run the paper preset's Table 1 and 2 DAGs (MaskBit, MaskGit, MaskGen-L, Meissonic)
#                 on seeded stand-ins of the official files at small sizes, offline on the CPU, in .paper-smoke/
#                 (~20 min on 2 cores)
#   make test     set up, then run the quick test suite (everything not marked slow or cluster; ~5 min on 2 cores)
#   make test-slow  set up, then what is marked slow: the end-to-end smoke run with its fingerprint check, the
#                 paper_smoke run, interrupted and concurrent runs (~20-30 min)
#   make readme-figure  docs/figures/tiny-table1.png, the README's figure, from the tiny Table 1 and its samples
#   make profile  per-rule time profile of the newest workflow run here (PROFILE_ROOT=.smoke for the smoke run)
#   make test-cluster  as root on a Debian-like machine: bring up a one-node SLURM cluster with two placeholder
#                 GPUs, run the smoke tables through profiles/slurm and compare with a local run, tear it down
#   make lock     re-resolve requirements-lock.txt (after a dependency change in pyproject.toml)
# Setup installs the exact packages of requirements-lock.txt (Python 3.11, Linux x86-64, sha256-checked), then
# softdimo itself without dependencies: every machine gets the versions the README's numbers and the smoke
# fingerprint were made with (docs/reproducibility.md).
PYTHON ?= python3
VENV := .venv
LOCK := requirements-lock.txt
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup python-version lock table1 table2 all report smoke paper-smoke test test-slow test-cluster profile readme-figure clean

setup: python-version $(VENV)/.installed

python-version:
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
		echo "softdimo needs Python >= 3.11; python3 here is $$(python3 -V 2>&1). Put a newer python3 first in PATH" \
		"(e.g. conda create -n softdimo python=3.11, or your distribution's python3.11)." >&2; exit 1; }

$(VENV)/.installed: pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "$(LOCK) is resolved for Python 3.11: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# uv resolves for Python 3.11 on manylinux x86-64 whatever this machine is, keeping the versions already in the
# lock unless pyproject.toml asks otherwise (delete the file to take the newest versions allowed)
lock:
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet uv==0.13.8
	.lock-venv/bin/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --no-emit-index-url --no-emit-find-links \
		--custom-compile-command "make lock" -o $(LOCK)

table1: setup
	snakemake --cores all results/table1.csv

table2: setup
	snakemake --cores all results/table2.csv

all: setup
	snakemake --cores all all

report: all
	snakemake --report report.html all

# the smoke preset in its own folder, so it never mixes with the tiny preset's results/
SMOKE := .smoke
smoke: setup
	mkdir -p $(SMOKE)
	rm -rf $(SMOKE)/workflow $(SMOKE)/config $(SMOKE)/profiles
	cp -r Snakefile config workflow profiles $(SMOKE)/
	cd $(SMOKE) && snakemake --cores all --configfile=config/smoke.yaml all
	python -m reports.fingerprint make $(SMOKE)/results --out $(SMOKE)/fingerprint.json

# the paper DAG on stand-ins (config/paper_smoke.yaml; docs/paper-scale.md), in its own folder as well
PAPER_SMOKE := .paper-smoke
paper-smoke: setup
	mkdir -p $(PAPER_SMOKE)
	rm -rf $(PAPER_SMOKE)/workflow $(PAPER_SMOKE)/config $(PAPER_SMOKE)/profiles
	cp -r Snakefile config workflow profiles $(PAPER_SMOKE)/
	cd $(PAPER_SMOKE) && snakemake --cores all results/table1.csv results/table2.csv --configfile config/paper_smoke.yaml

# the quick suite, on up to 4 processes (pytest-xdist); the end-to-end runs are marked slow and run in
# test-slow (CI runs both)
test: setup
	python -m pytest -n auto --maxprocesses 4 -m "not slow and not cluster"

test-slow: setup
	python -m pytest -m "slow and not cluster"

# the README's figure from the tiny Table 1 (builds it first if needed): FID vs steps beside sample strips
README_SAMPLES := results/c2i/samples/teacher/steps16/seed0.npz $(foreach s,dimo soft_dimo soft_dimo_long,results/c2i/samples/$(s)/steps1/seed0.npz)
readme-figure: setup
	snakemake --cores all results/table1.csv $(README_SAMPLES)
	mkdir -p docs/figures
	python -m reports.figures readme --table results/table1.csv --samples $(README_SAMPLES) \
		--titles "teacher, 16 steps" "Di[M]O, 1 step" "Soft-Di[M]O, 1 step" "Soft-Di[M]O longer, 1 step" \
		--out docs/figures/tiny-table1.png

PROFILE_ROOT ?= .
profile: setup
	python -m reports.profile --root $(PROFILE_ROOT)

test-cluster: setup
	workflow/cluster/local_slurm.sh up
	python -m pytest -m cluster tests/test_cluster.py -s; rc=$$?; workflow/cluster/local_slurm.sh down; exit $$rc

clean:
	rm -rf results/c2i results/t2i results/table1.* results/table2.* results/claims.csv results/figures \
		results/configs logs benchmarks .snakemake
