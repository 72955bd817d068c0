# Two commands do all the set-up on a fresh machine with only Python 3.11+:
#   make run    start the service (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL)
#   make test   run the whole suite (lint, types, tests)
#   make e2e    the browser tests (tests/e2e): Playwright driving Debian's Chromium
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PYTHONUNBUFFERED := 1

.PHONY: install run test lint types pytest e2e chromium bench clean-data

# Local runs and tests sign with a key of their own, made once in .pcf-data/secret_key;
# production sets SECRET_KEY itself (pcf/settings.py refuses to start without it).
LOCAL_SECRET_KEY = $(shell $(PY) -c 'from pcf.embedded import local_secret_key as k; print(k())')
run types pytest e2e bench: export SECRET_KEY ?= $(LOCAL_SECRET_KEY)

$(STAMP): pyproject.toml requirements.lock clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev]"
	# The Python client and `pcf` CLI (tests/client runs them against this server).
	$(PY) -m pip install -q --disable-pip-version-check -c requirements.lock -e ./clients/python
	touch $(STAMP)

install: $(STAMP)

# Local Flower login; set FLOWER_BASIC_AUTH=user:password yourself anywhere shared.
run: export FLOWER_BASIC_AUTH ?= pcf:pcf-local
run: export PATH := $(abspath $(VENV))/bin:$(PATH)
# Web and worker processes report their metrics together (/metrics on the web port).
run: export PROMETHEUS_MULTIPROC_DIR ?= $(abspath .pcf-data/metrics)
# honcho stops the whole stack when one process exits: each one restarts instead.
run: export PCF_RESPAWN := $(abspath $(PY)) -m pcf.respawn --
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_token
	@echo "API http://127.0.0.1:8000/v1  docs /v1/docs  admin /admin  Flower http://127.0.0.1:5555 ($$FLOWER_BASIC_AUTH)"
	$(VENV)/bin/honcho -f Procfile start web worker webhooks beat flower

lint: install
	$(VENV)/bin/ruff check .

# mypy's Django plugin and the tests load the settings, which start the embedded servers
# when DATABASE_URL/REDIS_URL are unset: stop the ones they started, once they are done
# (servers that were already running, e.g. under `make run`, are left alone).
SCOPED = $(PY) -m pcf.embedded scoped --

types: install
	$(SCOPED) $(VENV)/bin/mypy .

pytest: install
	$(SCOPED) $(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint types pytest

# Browser tests: Playwright (a dev dependency) drives Debian's Chromium, installed with
# apt-get when missing (Playwright's own browser download is not used). They start
# their own web, worker and Flower processes on the test database.
CHROMIUM ?= /usr/bin/chromium
e2e: install
	@test -x $(CHROMIUM) || $(MAKE) --no-print-directory chromium
	PCF_E2E_CHROMIUM=$(CHROMIUM) $(VENV)/bin/pytest --e2e tests/e2e $(PYTEST_ARGS)

chromium:
	@command -v apt-get >/dev/null || { echo "no $(CHROMIUM) and no apt-get: install Chromium and set CHROMIUM=" >&2; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo -n) apt-get update -q
	$(if $(filter 0,$(shell id -u)),,sudo -n) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

# Never delete the data folder under a live server: a failing `down` stops here.
clean-data:
	if test -x $(PY); then $(PY) -m pcf.embedded down; fi
	rm -rf .pcf-data
