# gridmap: the two set-up commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
DEMO_STORE ?= gpkg://$(CURDIR)/data/demo.gpkg
PORT ?= 8000

.PHONY: demo test bench lint typecheck sysdeps venv clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Build the demo district into the embedded GeoPackage store and serve the portal.
demo: $(STAMP)
	$(BIN)/gridmap demo --store $(DEMO_STORE) --port $(PORT)

## System packages the tests need (PostgreSQL + PostGIS, Chromium, GDAL tools), then the suite.
sysdeps:
	bash scripts/install-sysdeps.sh

test: sysdeps $(STAMP)
	$(BIN)/ruff check gridmap tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gridmap tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

## Speed and memory benchmarks; each writes JSON under benchmarks/results/.
bench: sysdeps $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) build dist *.egg-info
