# Two commands on a fresh machine:
#   make run    set up, migrate, load the demo district, serve on http://127.0.0.1:8000
#   make test   set up, lint, and run the suite on SQLite + local blobs, then PostgreSQL + SeaweedFS

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export FIELDAPI_DATA_DIR ?= ./var

.PHONY: run test test-embedded test-server lint openapi postgres clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo-seed
	@echo "Field API on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	$(BIN)/gunicorn --workers 2 --threads 4 --bind $(HOST):$(PORT) wsgi:app

# PostgreSQL must answer on 127.0.0.1:5432 for the server run; start the local cluster if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when it collects nothing; that is not a failure of the code under test.
PYTEST = $(BIN)/pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

test-embedded: $(VENV)/.dev
	FIELDAPI_TEST_BACKEND=embedded $(PYTEST)

test-server: $(VENV)/.dev postgres
	FIELDAPI_TEST_BACKEND=server $(PYTEST)

test: lint test-embedded test-server

# Rewrite the committed contract from what the app serves.
openapi: $(VENV)/.runtime
	FIELDAPI_DATA_DIR=$$(mktemp -d) $(BIN)/flask --app wsgi openapi write --format=json mobile_contract/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
