# Production WebSockets with Flask-SocketIO, Celery and JavaScript
#   make run    set everything up, then start the course app (LESSON=NN, SOLUTION=1)
#   make test   set everything up, then lint and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
UV_VERSION := 0.13.9
UV := $(TOOLS)/bin/uv
STAMPS := .setup-stamps
LESSON ?=
SOLUTION ?=
EX ?=
PYTEST_ARGS ?=
# Tests side by side (pytest-xdist): most of a grading run is waiting on real processes.
TEST_WORKERS ?= 2

# The newest stage in lessons/, e.g. 04: what `make run` starts without LESSON=.
NEWEST := $(firstword $(subst _, ,$(lastword $(sort $(notdir $(wildcard lessons/[0-9][0-9]_*))))))
STAGE := $(or $(LESSON),$(NEWEST))
# The pyproject.toml extras a stage's app needs (lesson 01 needs none).
APP_EXTRAS_01 :=
APP_EXTRAS_02 := lesson02
APP_EXTRAS_03 := lesson03
APP_EXTRAS_04 := lesson04 gevent-websocket
APP_EXTRAS = $(APP_EXTRAS_$(STAGE))

.PHONY: help setup run test test-fast lint check watch hint lessons notebooks diagrams regrade lock bench \
	bench-grading bench-scale-out clean \
	venv-simple-websocket run-simple-websocket

help:
	@sed -n '2,4p' Makefile | sed 's/^# *//'
	@echo "  make check LESSON=01 [SOLUTION=1]   grade a stage"
	@echo "  make watch LESSON=01                grade again on every save, exercise by exercise"
	@echo "  make hint EX=1.3                    the next hint of an exercise"
	@echo "  make test-fast                      the tests without nbgrader and the slow ones"
	@echo "  make lessons                        regenerate lessons/ (and the exercise tables)"
	@echo "  make notebooks                      regenerate the workbooks, then generate_assignment"
	@echo "  make diagrams                       render the lessons' Graphviz diagrams to SVG"
	@echo "  make regrade A=01_basics            regrade autograded submissions outside the kernel"
	@echo "  make lock                           remake uv.lock after editing pyproject.toml"
	@echo "  make bench                          run the benchmarks under bench/ (BENCH_ARGS=--quick)"
	@echo "  make bench-grading                  grading time with and without containment"
	@echo "  make bench-scale-out                the ways to scale lesson 04 out, side by side"
	@echo "  make run-simple-websocket           lesson 04 on gunicorn -k gevent + simple-websocket"

# uv, pinned, in a virtualenv of its own: it makes every other virtualenv from uv.lock.
$(UV):
	@echo "==> uv $(UV_VERSION) in $(TOOLS)"
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	@set -o pipefail; $(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
	  uv==$(UV_VERSION) 2>&1 | { grep -v '^WARNING: Location' || true; }  # this machine's pip config names missing mirrors

# One stamp per set of extras: .venv gets what each target needs, and keeps what it had.
$(STAMPS)/python-%: pyproject.toml uv.lock | $(UV)
	@mkdir -p $(STAMPS)
	@echo "==> $(VENV): the course$(if $(filter-out base,$*), with $(subst +, ,$*),) (uv.lock)"
	@$(UV) sync --locked --inexact --quiet --compile-bytecode --python $(PYTHON) \
	  $(foreach extra,$(filter-out base,$(subst +, ,$*)),--extra $(extra))
	@touch $@

stamp = $(STAMPS)/python-$(or $(subst $() ,+,$(strip $(1))),base)

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	@echo "==> socket.io client from npm (package-lock.json)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS)/system: tools/ensure-system-packages.sh
	@mkdir -p $(STAMPS)
	@if bash tools/ensure-system-packages.sh; then touch $@; \
	  else echo "==> continuing without them: the checks that need them will say so"; fi

setup: $(call stamp,dev) $(STAMPS)/npm $(STAMPS)/system

run: $(call stamp,$(APP_EXTRAS)) $(STAMPS)/npm $(STAMPS)/system
	@$(PY) -m autograder.serve $(STAGE) $(if $(SOLUTION),--solution)

lint: $(call stamp,dev)
	@echo "==> ruff"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check --quiet .

test: setup lint venv-simple-websocket
	@echo "==> pytest ($(TEST_WORKERS) workers; TEST_WORKERS=0 runs one by one)"
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)

# Everyday work: everything but nbgrader's round trips and the load and deployment tests.
test-fast: setup lint venv-simple-websocket
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not nbgrader and not slow" $(PYTEST_ARGS)

check: $(call stamp,$(APP_EXTRAS) grader) $(STAMPS)/npm $(STAMPS)/system
	@$(PY) -m autograder $(STAGE) $(if $(SOLUTION),--solution)

watch: $(call stamp,$(APP_EXTRAS) grader) $(STAMPS)/npm $(STAMPS)/system
	@$(PY) -m autograder.watch $(STAGE) $(if $(SOLUTION),--solution)

hint: $(call stamp,)
	@$(if $(EX),$(PY) -m autograder.hints $(EX),echo "Which exercise? e.g. make hint EX=1.3"; exit 2)

lessons: $(call stamp,)
	@$(PY) -m autograder.authoring.make_lessons

# The architecture diagrams: solutions/NN/diagrams/*.dot rendered to the .svg next to each
# (tests/test_diagrams.py checks they are current), then copied to lessons/ like every file.
diagrams: $(call stamp,) $(STAMPS)/system
	@for f in solutions/*/diagrams/*.dot; do dot -Tsvg "$$f" -o "$${f%.dot}.svg" && echo "$${f%.dot}.svg"; done
	@$(PY) -m autograder.authoring.make_lessons

notebooks: $(call stamp,notebooks)
	@$(PY) -m autograder.authoring.make_notebooks
	@cd notebooks && for d in source/*/; do ../$(PY) -m nbgrader generate_assignment "$$(basename $$d)" --force; done

A ?=
regrade: $(call stamp,notebooks grader lesson04 gevent-websocket)
	@$(if $(A),$(PY) -m autograder.regrade $(A) --course notebooks,echo "Which assignment? e.g. make regrade A=01_basics"; exit 2)

lock: | $(UV)
	@$(UV) lock

BENCH_ARGS ?=
bench: setup venv-simple-websocket
	@$(PY) -m bench $(BENCH_ARGS)

bench-grading: setup
	@$(PY) bench/grading_containment.py $(BENCH_ARGS)

bench-scale-out: setup
	@$(PY) bench/scale_out.py $(BENCH_ARGS)

# Lesson 04's maintained alternative needs a venv WITHOUT gevent-websocket (.venv-simple-websocket).
venv-simple-websocket: $(call stamp,lesson04)
	@$(PY) -m autograder.venvs simple-websocket

run-simple-websocket: $(call stamp,lesson04 gevent-websocket) $(STAMPS)/npm $(STAMPS)/system
	@$(PY) -m autograder.serve 04 --variant simple-websocket $(if $(SOLUTION),--solution)

clean:
	rm -rf $(VENV) .venv-simple-websocket $(TOOLS) $(STAMPS) .course-state node_modules \
	  notebooks/release notebooks/autograded notebooks/submitted notebooks/feedback \
	  notebooks/gradebook.db notebooks/grades.csv
