# SeqTrack: `make run` serves on the embedded default, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test pytest lint typecheck check install worker bench clean

$(STAMP): pyproject.toml requirements.lock src/seqtrack/web/vendor.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -m seqtrack.web.vendor
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/seqtrack db upgrade
	$(BIN)/seqtrack serve

worker: $(STAMP)
	$(BIN)/seqtrack worker

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Source, tests and benchmarks: the files are listed once, under [tool.mypy] in pyproject.toml.
typecheck: $(STAMP)
	$(BIN)/mypy

# Tests wait on databases, servers and browsers more than they compute: more workers than cores pays.
# Test by test, not file by file: a file of slow tests no longer holds one worker while the others idle
# (tests sharing a module-wide fixture say so with an xdist_group mark).
PYTEST_WORKERS ?= 4

# mypy runs beside the tests: they leave part of a core idle while they wait on servers and browsers.
test: $(STAMP) lint
	$(MAKE) --no-print-directory -j2 typecheck pytest

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

# A real `seqtrack serve` under wrk, SQLite and PostgreSQL (127.0.0.1:5432), ~25 min; writes
# docs/benchmarks.md. Installs wrk from Debian's packages when missing. Quick try: BENCH_ARGS=--quick
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
