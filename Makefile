# Two commands do everything on a fresh machine:  `make up`  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
WATCH ?= ./inbox

.PHONY: setup up check test lint monitoring system-deps

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

up: setup
	$(VENV)/bin/freshrag up --watch $(WATCH)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The fast tier, for every edit: lint and the unit tests (no I/O, no model, no servers), under a minute.
check: lint
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

# Prometheus configuration, alert and recording rules, and the promtool unit tests of every alert.
monitoring:
	cd monitoring/prometheus && promtool check config prometheus.yml && promtool check rules rules/*.yml \
		&& promtool test rules tests/alerts_test.yml

# Redis, Prometheus, Chromium (and python3-venv) from Debian: installed when run as root, else named.
system-deps:
	scripts/system-deps

test: system-deps lint monitoring
	$(PY) -m pytest -q -p no:cacheprovider --durations=25 -n 2 --dist worksteal
