# `make run` and `make test` bootstrap .venv themselves; nothing else needs installing by hand.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench install dev ml clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)
dev: $(DEV_STAMP)

ml: $(DEV_STAMP)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,ml]'

run: $(STAMP)
	$(BIN)/python main.py serve --demo

# pytest's exit code 5 means "no tests ran": a failure, never a pass.
test: $(DEV_STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy planner compass publishers sandbox main.py

# Benchmarks print figures (see the README's Performance section); PostgreSQL at
# BENCH_DATABASE_URL's server (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
bench: $(DEV_STAMP)
	$(BIN)/python -m bench.calendar_bench
	$(BIN)/python -m bench.balance_bench
	$(BIN)/python bench/suggest_eval.py
	$(BIN)/python bench/balance_pure.py
	$(BIN)/python bench/dispatch_bench.py
	$(BIN)/python bench/attribution_bench.py
	$(BIN)/python bench/redirect_bench.py
	$(BIN)/python -m bench.import_bench --db all
	$(BIN)/python -m bench.slotgrid_bench --db all

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .pytest_cache .mypy_cache .ruff_cache
