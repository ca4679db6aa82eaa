# The two commands a newcomer needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
DEMO_DB ?= sqlite:///$(CURDIR)/instance/demo.db

.PHONY: run test venv dev-venv setup demo clean-venv prod-check

# `make run` installs only what the app runs on; `make test` adds the test and benchmark tools.
$(BIN)/activate: requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

$(VENV)/.dev-installed: requirements-dev.txt $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.dev-installed

venv: $(BIN)/activate

dev-venv: $(VENV)/.dev-installed

setup: venv
	mkdir -p instance
	$(FLASK) setup

run: setup
	SCHEDULER_IN_APP=1 TASKS_IN_APP=1 $(FLASK) run --host $(HOST) --port $(PORT)

# make test ARGS=tests/test_merchants.py runs one part; WORKERS=0 runs in one process (pytest-xdist off).
# Without TEST_DATABASE_URL the tests run on SQLite only.
WORKERS ?= 2
ARGS ?=
test: dev-venv
	$(BIN)/python -m pytest -q -n $(WORKERS) $(ARGS)

# The production set-up under load on this machine (deploy/prod_check.py): gunicorn, schedulers, queue workers,
# PostgreSQL and Redis; a few minutes, not part of `make test`. make prod-check ARGS="--seconds 120 --users 32"
prod-check: dev-venv
	$(BIN)/python deploy/prod_check.py $(ARGS)

demo: venv
	mkdir -p instance
	DATABASE_URL=$(DEMO_DB) $(FLASK) demo load --reset
	SCHEDULER_IN_APP=1 TASKS_IN_APP=1 DATABASE_URL=$(DEMO_DB) $(FLASK) run --host $(HOST) --port $(PORT)

clean-venv:
	rm -rf $(VENV)
