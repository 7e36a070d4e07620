# dossier: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export OMP_THREAD_LIMIT := 1

.PHONY: bootstrap demo test test-unit lint bench clean-demo

bootstrap:
	bash scripts/bootstrap.sh

demo: bootstrap
	bash scripts/demo.sh

test: bootstrap
	bash scripts/ensure-postgres.sh
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: bootstrap
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/bin/ruff check config models ingest archive app flows web tests bench

bench: bootstrap
	bash scripts/ensure-postgres.sh
	$(PY) -m bench.run_all

clean-demo:
	rm -rf var/demo
