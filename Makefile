# Production WebSockets with Flask-SocketIO, Celery and JavaScript
#   make run    set everything up, then start the course app (LESSON=NN, SOLUTION=1)
#   make test   set everything up, then lint and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .setup-stamps
LESSON ?=
SOLUTION ?=
PYTEST_ARGS ?=

.PHONY: help setup run test lint check lessons notebooks bench clean venv-simple-websocket run-simple-websocket

help:
	@sed -n '2,4p' Makefile | sed 's/^# *//'
	@echo "  make check LESSON=01 [SOLUTION=1]   grade a stage"
	@echo "  make lessons                        regenerate lessons/ from solutions/"
	@echo "  make notebooks                      nbgrader generate_assignment for every lesson"
	@echo "  make bench                          run the benchmarks under bench/ (BENCH_ARGS=--quick)"
	@echo "  make run-simple-websocket           lesson 04 on gunicorn -k gevent + simple-websocket"

$(STAMPS)/python: pyproject.toml requirements.lock
	@mkdir -p $(STAMPS)
	@echo "==> Python virtualenv in $(VENV) (pinned by requirements.lock)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e . 2>&1 \
	  | { grep -v '^WARNING: Location' || true; }  # this machine's pip config names missing mirrors
	@touch $@

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	@echo "==> socket.io client from npm (package-lock.json)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS)/system: tools/ensure-system-packages.sh
	@mkdir -p $(STAMPS)
	@if bash tools/ensure-system-packages.sh; then touch $@; \
	  else echo "==> continuing without them: the checks that need them will say so"; fi

setup: $(STAMPS)/python $(STAMPS)/npm $(STAMPS)/system

run: setup
	@$(PY) -m autograder.serve $(LESSON) $(if $(SOLUTION),--solution)

lint: $(STAMPS)/python
	@echo "==> ruff"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check --quiet .

test: setup lint
	@echo "==> pytest"
	@$(PY) -m pytest $(PYTEST_ARGS)

check: setup
	@$(PY) -m autograder $(or $(LESSON),01) $(if $(SOLUTION),--solution)

lessons: $(STAMPS)/python
	@$(PY) -m autograder.make_lessons

notebooks: $(STAMPS)/python
	@$(PY) -m autograder.make_notebooks
	@cd notebooks && for d in source/*/; do ../$(PY) -m nbgrader generate_assignment "$$(basename $$d)" --force; done

BENCH_ARGS ?=
bench: setup venv-simple-websocket
	@$(PY) bench/run_all.py $(BENCH_ARGS)

# Lesson 04's maintained alternative needs a venv WITHOUT gevent-websocket (.venv-simple-websocket).
venv-simple-websocket: $(STAMPS)/python
	@$(PY) -m autograder.checks.lesson04_simple_websocket --solution --venv-only

run-simple-websocket: setup
	@$(PY) -m autograder.checks.lesson04_simple_websocket $(if $(SOLUTION),--solution)

clean:
	rm -rf $(VENV) $(STAMPS) node_modules notebooks/release notebooks/autograded notebooks/submitted notebooks/feedback notebooks/gradebook.db
