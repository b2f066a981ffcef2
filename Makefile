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

# The Python SDK (sdk/python, distribution saas-platform) is installed beside the server for its
# tests (tests/sdk/python); its dependencies (httpx, pydantic) are the server's too.
$(DEV_STAMP): $(BIN)/python requirements-dev.lock pyproject.toml sdk/python/pyproject.toml
	@echo "Installing the platform's dependencies and dev tools into $(VENV)..."
	$(BIN)/pip install --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip install --quiet --no-deps -e sdk/python
	touch $(STAMP) $(DEV_STAMP)

# The TypeScript SDK's suite (tests/sdk/ts) runs in Node: `make test` installs Node and npm
# when missing (Debian's packages; sudo unless root), then the SDK's locked dependencies.
# `make run` needs none of it.
SDK_TS := sdk/typescript
SDK_TS_STAMP := $(SDK_TS)/node_modules/.installed

$(SDK_TS_STAMP): $(SDK_TS)/package.json $(SDK_TS)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		echo "Installing Node.js and npm (apt-get) for the TypeScript SDK's tests..."; \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq nodejs npm; }
	cd $(SDK_TS) && npm ci --no-audit --no-fund
	touch $(SDK_TS_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

run: install
	$(BIN)/saas serve --host $(HOST) --port $(PORT)

# The dashboard's browser tests drive Debian's Chromium (never a browser Playwright downloads).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The suite runs on PYTEST_WORKERS pytest-xdist workers, a file to a worker (module fixtures are
# started once), each with its own embedded PostgreSQL: most tests wait on servers and processes,
# so three workers finish well before one even on two cores. `make test PYTEST_WORKERS=0` runs it
# in this process (for a debugger).
PYTEST_WORKERS ?= 3

test: install-dev $(SDK_TS_STAMP) chromium
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports
	$(BIN)/ruff check sdk/python
	$(BIN)/ruff format --check sdk/python
	$(BIN)/mypy --config-file sdk/python/pyproject.toml -p saas_platform
	$(BIN)/python sdk/python/scripts/unasync.py --check

format: install-dev
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix sdk/python
	$(BIN)/ruff format sdk/python
	$(BIN)/python sdk/python/scripts/unasync.py

# Regenerate the lock files after changing dependencies in pyproject.toml (needs `uv`).
lock:
	uv pip compile pyproject.toml -o requirements.lock --python-version 3.11 --generate-hashes -q
	uv pip compile pyproject.toml --extra dev -o requirements-dev.lock --python-version 3.11 --generate-hashes -q

bench: install-dev
	$(BIN)/python bench/auth.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
