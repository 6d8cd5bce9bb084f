# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: wrk run stop status test test-upstream bench install install-test browser redis-server clean screenshot

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	@touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) install --quiet -e '.[test]'
	@touch $@

$(BENCH_STAMP): $(TEST_STAMP)
	$(PIP) install --quiet -e '.[test,bench]'
	@touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)

run: $(STAMP)
	@$(PY) -m prosaas migrate
	@$(PY) -m prosaas run

stop:
	@$(PY) -m prosaas stop

status:
	@$(PY) -m prosaas status

# Chromium for the dashboard's browser test (Debian's package; Playwright drives it).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium could not be installed: browser tests will be skipped"

# Redis server and sentinel for the Sentinel failover test (Debian's package; the suite starts private ones).
redis-server:
	@command -v redis-server >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) || echo "redis-server could not be installed: the Sentinel test will be skipped"

# Tests wait on subprocesses and servers far more than they use the CPU: TEST_WORKERS pytest-xdist workers
# (each with its own database and Redis namespace) take whole files, longest first. TEST_WORKERS=0: one process.
# A second pass in one process: tests/fuzz (schemathesis gives all its cases one node id, which xdist cannot
# hand out) and tests/chaos (restarts and kills under load: twice in four parallel runs one timed out).
TEST_WORKERS ?= 3
test: $(TEST_STAMP) browser redis-server
	@status=0; \
	$(PY) -m pytest tests --ignore=tests/fuzz --ignore=tests/chaos -n $(TEST_WORKERS) --dist loadfile \
		--no-loadscope-reorder || status=$$?; \
	$(PY) -m pytest tests/fuzz tests/chaos || status=$$?; \
	exit $$status

# Dramatiq's own tests against our broker (its sdist is downloaded into var/upstream; see tests/upstream/).
test-upstream: $(TEST_STAMP)
	$(PY) -m tests.upstream.run_upstream -q

# wrk drives the API benchmark (Debian's package).
wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) || echo "wrk could not be installed: bench/bench_api.py needs it"

bench: $(BENCH_STAMP) wrk
	@for script in bench/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf var/ .pytest_cache

# Re-take docs/dashboard.png and docs/dashboard-*.png from a real run (headless chromium).
screenshot: $(TEST_STAMP) browser
	PROSAAS_DASHBOARD_SCREENSHOT=docs/dashboard.png $(PY) -m pytest tests/ops/test_dashboard_browser.py -q
	PROSAAS_DASHBOARD_SCREENSHOTS=docs $(PY) -m pytest tests/opsview/test_operators_browser.py -q
