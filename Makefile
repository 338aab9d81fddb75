# The README's two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit bench clean drills

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "closeloop needs Python 3.11 or newer")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/closeloop migrate
	$(BIN)/closeloop seed --if-empty
	$(BIN)/closeloop serve

lint: $(STAMP)
	$(BIN)/ruff check bot handlers storage tests bench
	$(BIN)/ruff format --check bot handlers storage tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

# The fault drills (bench/drills, docs/reliability.md) against real servers; DRILLS="1 3" picks
# some. PostgreSQL ones use TEST_DATABASE_URL, as the tests do.
drills: $(STAMP)
	$(BIN)/python -m bench.drills $(DRILLS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
