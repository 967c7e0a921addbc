# leadcrm: `make run` to try it, `make test` to prove it. See README.md.
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
HOST     ?= 127.0.0.1
PORT     ?= 8000
# pytest workers; the suite's live servers and Celery workers pick free ports, so 2 is safe.
TEST_WORKERS ?= 2
VAR_DIR  := $(or $(LEADCRM_VAR_DIR),var)
# `$(call localdb,DIR) COMMAND`: with DATABASE_URL unset, COMMAND runs against an embedded
# PostgreSQL whose data is in DIR/postgres, stopped when COMMAND ends (leadcrm/localdb.py).
localdb   = $(if $(DATABASE_URL),,$(PY) -m leadcrm.localdb $(1) --)

# The tests run with DEBUG off, where settings refuse a weak SECRET_KEY: a random one a run
# (a SECRET_KEY given in the environment is used instead, and must be strong).
TEST_SECRET_KEY := $(shell od -An -N48 -tx1 /dev/urandom | tr -d ' \n')

.PHONY: install run test lint format worker beat clean js

# The browser SDKs' npm packages for tests/pages/test_browser_sdks.py, installed from
# tests/js/package-lock.json when missing. Without npm those tests skip locally (CI fails them).
JS_DIR   := tests/js

js:
	@if [ -d $(JS_DIR)/node_modules ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "Installing the browser SDKs for the tests (npm ci --prefix $(JS_DIR))"; \
		npm ci --prefix $(JS_DIR) --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the browser SDK tests will be skipped (apt-get install npm)"; \
	fi

install: $(STAMP)

# Reinstall only when a requirements file changed (a second `make run` installs nothing).
$(STAMP): requirements.txt requirements-dev.txt
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		interp=$$(scripts/find-python) || exit 1; \
		echo "Creating $(VENV) with $$interp"; rm -rf $(VENV); "$$interp" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

run: install
	@HOST=$(HOST) PORT=$(PORT) $(call localdb,$(VAR_DIR)) scripts/run

test: install js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	@# django-stubs imports the settings, which want these (nothing connects to the database).
	@# No cache: a type changed in settings.py would not reach its readers through it.
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} DATABASE_URL=$${DATABASE_URL:-postgres://localhost/mypy} \
		$(VENV)/bin/mypy --no-incremental
	@# The tests' own var/ (PostgreSQL's data, broker messages), apart from make run's data.
	rm -rf var/test
	SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} LEADCRM_VAR_DIR=$(CURDIR)/var/test \
		$(call localdb,var/test) sh -c '$(PY) manage.py makemigrations --check --dry-run \
		&& exec $(VENV)/bin/pytest "$$@"' pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

worker: install
	$(VENV)/bin/celery -A leadcrm worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A leadcrm beat --loglevel=INFO

clean:
	rm -rf $(VENV) var .pytest_cache $(JS_DIR)/node_modules
