# Everything a newcomer needs: `make demo` and `make test`.
# Only python3 and make are assumed; the environment lives in .venv and is
# reused until pyproject.toml or requirements.lock change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo

.PHONY: demo test test-all lint install lock clean sample bench bench-febrl browser java notebook

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/acctgraph run data/sample --out $(OUT)
	$(BIN)/acctgraph evaluate --members $(OUT)/members.parquet --labels data/sample/labels.csv --json $(OUT)/evaluation.json
	@echo
	@echo "Results in $(OUT)/: members, clusters, evidence, contributions, attached, cohorts, splits, merges (.parquet/.csv), run.json, config.toml, evaluation.json"
	@echo "Report (opens offline; label operations there for the next run's --decisions): $(OUT)/report.html (and report.md); evidence cards: $(OUT)/cards.json"
	@echo "Graph pages (open in a browser, they work offline): $(OUT)/graphs/overview.html and" \
		"$$(ls $(OUT)/graphs/cluster_*.html | wc -l) cluster pages, e.g. $(OUT)/graphs/cluster_op-000001.html"

# The browser tests drive Debian's Chromium (CI runs on a fresh machine, as root).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
		|| { echo "the browser tests need Chromium: run 'apt-get install chromium' as root"; exit 1; }

# The Spark tests (tests/test_spark.py, local mode) need a Java runtime, 17 or newer (Debian's).
java:
	@command -v java >/dev/null 2>&1 || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y default-jre-headless) \
		|| { echo "the Spark tests need Java 17+: run 'apt-get install default-jre-headless' as root"; exit 1; }

# Style (ruff check, ruff format --check) and a type check of the package (mypy; it ships py.typed).
lint: $(STAMP)
	$(BIN)/ruff check acctgraph tests benchmarks conftest.py
	$(BIN)/ruff format --check acctgraph tests benchmarks conftest.py
	$(BIN)/mypy

test: $(STAMP) browser java lint
	$(BIN)/python -m pytest -m "not slow" -q

test-all: $(STAMP) browser java
	$(BIN)/python -m pytest -q

# JupyterLab on the investigator notebooks, in the project's environment (its python3 kernel).
# JupyterLab is installed on first use: about 50 packages the tests do not need, so it is not in
# requirements.lock. jupytext (locked) pairs each .ipynb with its .py on every save.
JUPYTERLAB ?= jupyterlab>=4.4,<5
notebook: $(STAMP)
	$(BIN)/python -c "import jupyterlab" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check '$(JUPYTERLAB)'
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/01_quickstart.ipynb

# Regenerate the bundled sample world (deterministic: same seed, same bytes).
sample: $(STAMP)
	$(BIN)/acctgraph simulate --preset sample --seed 7 --out data/sample --format csv

# Detector benchmark on a held-out sample and bench world (generated once into out/worlds).
bench: $(STAMP)
	test -d out/worlds/sample11 || $(BIN)/acctgraph simulate --preset sample --seed 11 --out out/worlds/sample11
	test -d out/worlds/bench21 || $(BIN)/acctgraph simulate --preset bench --seed 21 --out out/worlds/bench21
	$(BIN)/python benchmarks/bench_run.py out/worlds/sample11 out/worlds/bench21

# Record linkage on the public FEBRL benchmarks, side by side with Splink (benchmark-only
# dependencies: the [bench] extra, installed here on first use).
bench-febrl: $(STAMP)
	$(BIN)/python -c "import splink" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check 'splink==5.0.0'
	$(BIN)/python benchmarks/bench_febrl.py --repeat 3

# Refresh the lock file from pyproject.toml (needs the registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^acctgraph' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) out .pytest_cache
