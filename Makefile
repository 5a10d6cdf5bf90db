# Every target prepares what it needs: a fresh clone only needs python3, node and npm.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
ASSETS_STAMP := src/ollama_webmgr/web/static/dist/manifest.json

.PHONY: all demo run test lint assets bench proto requirements clean help

all: test

help:
	@echo "make demo   - application + passerelle + nœuds Ollama émulés (hors ligne)"
	@echo "make run    - application contre un vrai Ollama (OLLAMA_BASE_URL=...)"
	@echo "make test   - lint, typage et tests"
	@echo "make bench  - mesures de performance -> docs/benchmarks.md"

$(PY_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade 'pip>=25.1'
	$(PY) -m pip install -q --disable-pip-version-check -e '.[redis,postgres,agent,deploy]' --group dev
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(ASSETS_STAMP): $(NODE_STAMP) $(shell find src/ollama_webmgr/web/assets src/ollama_webmgr/web/templates -type f 2>/dev/null) scripts/build-assets.mjs scripts/icons.mjs
	npm run --silent build

assets: $(ASSETS_STAMP)

lint: $(PY_STAMP)
	$(BIN)/ruff check src tests benchmarks scripts deploy conftest.py
	$(BIN)/ruff format --check src tests benchmarks scripts deploy conftest.py
	$(BIN)/mypy

test: lint assets
	$(BIN)/pytest $(PYTEST_ARGS)

demo: $(PY_STAMP) assets
	$(BIN)/ollama-webmgr demo

run: $(PY_STAMP) assets
	$(BIN)/ollama-webmgr serve

# gRPC modules of the node agent (committed; tests/agent checks they are current)
proto: $(PY_STAMP)
	$(PY) scripts/gen_proto.py

# requirements.txt for installs without pip extras (tests/deploy checks it)
requirements: $(PY_STAMP)
	$(PY) scripts/gen_requirements.py

LIGHTHOUSE := build/lighthouse/node_modules/.bin/lighthouse

$(LIGHTHOUSE):
	npm install --prefix build/lighthouse --no-audit --no-fund --loglevel=error lighthouse@12.8.2

# LiteLLM's proxy and the aiohttp relay (the `bench` extra) in a venv of their own;
# benchmarks/bench_gateway.py runs them as subprocesses.
BENCH_VENV := build/bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade 'pip>=25.1'
	$(PY) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['bench'], sep='\n')" > $(BENCH_VENV)/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(BENCH_VENV)/requirements.txt
	touch $@

bench: $(PY_STAMP) assets $(LIGHTHOUSE) $(BENCH_STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules src/ollama_webmgr/web/static/dist .pytest_cache .mypy_cache .ruff_cache
