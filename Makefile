# PFS — the two commands are `make run` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
ARGS    ?=

.PHONY: install run test bench system-deps clean

$(STAMP): pyproject.toml
	bash scripts/system-deps.sh --build
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests need (compilers for example plugins, fuse3, wrk, nginx, ...).
system-deps:
	bash scripts/system-deps.sh

run: install
	$(VENV)/bin/pfs-server $(ARGS)

test: system-deps install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: system-deps install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
