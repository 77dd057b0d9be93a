# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# The first interpreter that really runs and is 3.11 or newer (pyenv shims may name ones that don't).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; \
	done)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Two workers: the suite is half waiting on PostgreSQL, SQLite fsyncs and real service processes.
PYTEST_ARGS ?= -n 2

# openapi-python-client (the generated-client test) pins a Typer older than the CLI's, so it
# gets its own virtual environment; the pinned version is here, the stamp follows this file.
CODEGEN_VENV ?= .venv-codegen
CODEGEN_STAMP := $(CODEGEN_VENV)/.installed
OPENAPI_PYTHON_CLIENT := openapi-python-client==0.29.1

.PHONY: run venv codegen-venv test check lint format typecheck unit bench clean browser pgbouncer screenshots

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "gencredits needs Python 3.11 or newer (python3)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

$(CODEGEN_STAMP): Makefile
	@test -n "$(PYTHON)" || { echo "gencredits needs Python 3.11 or newer (python3)"; exit 1; }
	@test -x $(CODEGEN_VENV)/bin/python || $(PYTHON) -m venv $(CODEGEN_VENV)
	$(CODEGEN_VENV)/bin/python -m pip install --quiet '$(OPENAPI_PYTHON_CLIENT)'
	@touch $(CODEGEN_STAMP)

codegen-venv: $(CODEGEN_STAMP)

## Start the HTTP service at http://127.0.0.1:8000 (`make run PORT=8001` for another port) on
## the embedded default (SQLite file under ./var): the first start creates the database and
## prints an admin API key, once.
PORT ?= 8000
run: venv
	$(BIN)/gencredits serve --host 127.0.0.1 --port $(PORT)

## Everything CI checks: lint, format, types, every test (the browser tests included).
test: venv codegen-venv browser pgbouncer lint typecheck unit

## The browser the browser tests drive: Debian's Chromium, installed when missing (as root,
## as CI runs; a browser cannot be downloaded by Playwright here).  Without it the browser
## tests are skipped, except under CI=true, where they fail.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	  else echo "warning: $(CHROMIUM) is missing: sudo apt-get install chromium"; fi; }

## The connection pooler the pooling tests run the service behind: Debian's pgbouncer,
## installed when missing (as root, as CI runs).  Without it those tests are skipped,
## except under CI=true, where they fail.
PGBOUNCER ?= /usr/sbin/pgbouncer
pgbouncer:
	@test -x $(PGBOUNCER) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
	  else echo "warning: $(PGBOUNCER) is missing: sudo apt-get install pgbouncer"; fi; }

## Retake the README's screenshots (docs/img/*.png) from a fresh service.
screenshots: venv browser
	$(BIN)/python -m tests.web.screenshots docs/img

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: venv
	$(BIN)/mypy --strict src

unit: venv codegen-venv
	GENCREDITS_CODEGEN_VENV=$(abspath $(CODEGEN_VENV)) $(BIN)/pytest $(PYTEST_ARGS)

format: venv
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: venv
	$(BIN)/python bench/quote.py

clean:
	rm -rf $(VENV) $(CODEGEN_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
