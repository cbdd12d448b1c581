# PFS — the two commands are `make run` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
ARGS    ?=

.PHONY: install install-test run test bench system-deps clean

# `make run` installs the server with every plugin (extra `all`), not the test tools.
$(RUN_STAMP): pyproject.toml setup.py constraints.txt src/pfs/external/wasm/_ticker.c src/pfs/external/wasm/_guestcall.c
	bash scripts/system-deps.sh --build
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[all]'
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(TEST_STAMP)

install: $(RUN_STAMP)

install-test: $(TEST_STAMP)

# Debian packages the tests need (compilers for example plugins, fuse3, wrk, nginx, ...).
system-deps:
	bash scripts/system-deps.sh

run: install
	$(VENV)/bin/pfs-server $(ARGS)

test: system-deps install-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: system-deps install-test
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info src/pfs/external/wasm/_*.so
