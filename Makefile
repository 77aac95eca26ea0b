# The README's quick start: `make report` and `make test` on a fresh machine
# with Python 3.11 and make. Both create .venv from the locked dependencies.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: report test lint typecheck unit lock clean demo-data notebooks bench

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/outcomes report --out reports/demo-report.html

# Re-execute the notebooks in place (their stored outputs are what nbval compares).
notebooks: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		01_clinic_overview.ipynb 02_effect_sizes.ipynb 03_range_of_motion.ipynb 04_data_quality.ipynb \
		05_benchmarking.ipynb

# Regenerate the bundled demo dataset (2,000 episodes, seed 2026).
demo-data: $(STAMP)
	rm -rf outcomes/synth/demo_data
	$(BIN)/outcomes demo --out outcomes/synth/demo_data --episodes 2000 --seed 2026 --format parquet

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# Speed and memory figures (not part of the tests): 100,000 and 1,000,000 episodes.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# Regenerate requirements.lock from pyproject.toml (needs network access to PyPI).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--generate-hashes --no-header -o requirements.lock

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
