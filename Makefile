# Two commands matter on a fresh machine: `make run` and `make test`. Both install first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# `make run PORT=8080 HOST=0.0.0.0`. PORT may also come from the environment; HOST only from
# the command line, since shells and containers often set HOST to the machine's name.
HOST = 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev chromium run test lint format lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The stamps make `make install` idempotent: it reinstalls only when a lock file or pyproject changes.
# The long installs are not --quiet: a first `make run` shows what it is doing.
$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	@echo "Installing the platform's dependencies into $(VENV) (a minute or two the first time)..."
	$(BIN)/pip install --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

$(DEV_STAMP): $(BIN)/python requirements-dev.lock pyproject.toml
	@echo "Installing the platform's dependencies and dev tools into $(VENV)..."
	$(BIN)/pip install --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP) $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

run: install
	$(BIN)/saas serve --host $(HOST) --port $(PORT)

# The dashboard's browser tests drive Debian's Chromium (never a browser Playwright downloads).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

test: install-dev chromium
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# Regenerate the lock files after changing dependencies in pyproject.toml (needs `uv`).
lock:
	uv pip compile pyproject.toml -o requirements.lock --python-version 3.11 --generate-hashes -q
	uv pip compile pyproject.toml --extra dev -o requirements-dev.lock --python-version 3.11 --generate-hashes -q

bench: install-dev
	$(BIN)/python bench/auth.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
