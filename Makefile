# MedSync developer commands. `make run` to try it, `make test` to prove it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DEBUG ?= true
export DJANGO_SETTINGS_MODULE := medsync.settings

.PHONY: install run test test-fast lint format bench clean

# Reinstall when the lock files change; otherwise `install` is instant.
$(VENV)/.installed: requirements.lock package.json package-lock.json
	@command -v $(PYTHON) >/dev/null || { echo "MedSync needs Python 3.11 ($(PYTHON) not found)."; exit 1; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	@command -v npm >/dev/null || { echo "MedSync needs npm for its CSS and chart assets (apt-get install npm)."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed

# Row-level security (README): migrate and seed as the schema owner, serve as the app role
# (no BYPASSRLS), the named cross-tenant lookups through the platform role.
run: export DATABASE_OWNER_URL ?= postgres://medsync_owner:medsync-owner-dev@127.0.0.1:5432/medsync
run: export DATABASE_URL ?= postgres://medsync_app:medsync-app-dev@127.0.0.1:5432/medsync
run: export DATABASE_PLATFORM_URL ?= postgres://medsync_platform:medsync-platform-dev@127.0.0.1:5432/medsync
run: install
	@bin/ensure-services
	@bin/ensure-db-roles
	DATABASE_URL="$$DATABASE_OWNER_URL" $(BIN)/python manage.py migrate --noinput
	DATABASE_URL="$$DATABASE_OWNER_URL" $(BIN)/python manage.py seed_demo
	@bin/run-dev

# Everything CI runs: lint, the import contracts, every test (browser and real-worker included).
test: lint
	@bin/ensure-services
	$(BIN)/pytest $(PYTEST_ARGS)

# The loop to work in: every test but the browser and real-worker ones, on both cores
# (pytest-xdist: each worker gets its own test database and Redis database); the API fuzzer
# tries one example per operation and role here, its full budget in `make test`.
test-fast: install
	@bin/ensure-services
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-1} $(BIN)/pytest -m "not e2e and not celery_worker" -n 2 -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .ruff_cache
