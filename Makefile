# Everything a newcomer needs: `make demo` and `make test`.
# Only python3 and make are assumed; the environment lives in .venv and is
# reused until pyproject.toml or requirements.lock change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo

.PHONY: demo test test-all install lock clean sample bench

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
	@echo "Results in $(OUT)/: members, clusters, evidence, contributions (.parquet/.csv), run.json, evaluation.json"

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

# Regenerate the bundled sample world (deterministic: same seed, same bytes).
sample: $(STAMP)
	$(BIN)/acctgraph simulate --preset sample --seed 7 --out data/sample --format csv

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_run.py

# Refresh the lock file from pyproject.toml (needs the registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^acctgraph' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) out .pytest_cache
