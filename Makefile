# Every target prepares what it needs: a fresh clone only needs python3, node and npm.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
ASSETS_STAMP := src/ollama_webmgr/web/static/dist/manifest.json

.PHONY: all demo run test lint assets bench proto lock check-lock clean help

all: test

help:
	@echo "make demo   - application + passerelle + nœuds Ollama émulés (hors ligne)"
	@echo "make run    - application contre un vrai Ollama (OLLAMA_BASE_URL=...)"
	@echo "make test   - lint, typage et tests"
	@echo "make bench  - mesures de performance -> docs/benchmarks.md"
	@echo "make lock   - verrouille les dépendances Python (uv.lock, requirements.txt)"

# Python: uv installs exactly what uv.lock holds (every file with its hash), the
# same on every machine. uv itself comes from PyPI, pinned with its hashes in
# scripts/uv-requirements.txt. `make lock` re-locks after a change to pyproject.toml.
UV_VERSION := 0.13.10
UV_DIR := build/uv
UV := $(UV_DIR)/bin/uv
UV_STAMP := $(UV_DIR)/.installed
UV_ENV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never
# what a production server installs (requirements.txt), and what development adds
EXTRAS := --extra redis --extra postgres --extra agent
RUNTIME := --no-dev $(EXTRAS)
LOCK_HINT := uv.lock ne correspond plus à pyproject.toml : lancer « make lock », puis committer uv.lock et requirements.txt

$(UV_STAMP): scripts/uv-requirements.txt
	test -x $(UV_DIR)/bin/python || python3 -m venv $(UV_DIR)
	$(UV_DIR)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r $<
	touch $@

$(PY_STAMP): pyproject.toml uv.lock $(UV_STAMP)
	@$(UV_ENV) $(UV) lock -q --check --python python3 || { echo "$(LOCK_HINT)" >&2; exit 1; }
	$(UV_ENV) $(UV) sync -q --locked --python python3 $(EXTRAS) --group dev
	touch $@

# requirements.txt: the runtime part of uv.lock, for pip (deploy/README.md, Dockerfile)
define export_runtime
{ printf '%s\n' '# Runtime dependencies of ollama-webmgr, from uv.lock (make lock); do not edit.' \
    '#   pip install -r requirements.txt && pip install --no-deps .'; \
  $(UV) export -q --frozen --no-header --no-emit-project --format requirements-txt $(RUNTIME); } > $(1)
endef

# npm side: package-lock.json as npm writes it (`npm ci` installs only that);
# the check runs npm on a copy, which must leave the lock unchanged.
NPM_LOCK := npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error
NPM_CHECK := build/npm-lock-check

lock: $(UV_STAMP)
	$(UV_ENV) $(UV) lock --python python3 $(LOCK_ARGS)
	echo 'uv==$(UV_VERSION)' | $(UV) pip compile -q --universal --generate-hashes --no-header - -o scripts/uv-requirements.txt
	$(call export_runtime,requirements.txt)
	$(NPM_LOCK)

# uv.lock still satisfies pyproject.toml, requirements.txt is its runtime part,
# and npm would write package-lock.json as it is
check-lock: $(UV_STAMP)
	@$(UV_ENV) $(UV) lock -q --check --python python3 || { echo "$(LOCK_HINT)" >&2; exit 1; }
	@$(call export_runtime,build/requirements.check.txt)
	@cmp -s build/requirements.check.txt requirements.txt || { echo "requirements.txt ne vient pas de uv.lock : lancer « make lock »" >&2; exit 1; }
	@rm -rf $(NPM_CHECK) && mkdir -p $(NPM_CHECK) && cp package.json package-lock.json .npmrc $(NPM_CHECK)/
	@cd $(NPM_CHECK) && $(NPM_LOCK) >/dev/null
	@cmp -s $(NPM_CHECK)/package-lock.json package-lock.json || { echo "package-lock.json n'est pas celui qu'écrit npm pour package.json : lancer « make lock »" >&2; exit 1; }

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(ASSETS_STAMP): $(NODE_STAMP) $(shell find src/ollama_webmgr/web/assets src/ollama_webmgr/web/templates -type f 2>/dev/null) scripts/build-assets.mjs scripts/icons.mjs
	npm run --silent build

assets: $(ASSETS_STAMP)

lint: $(PY_STAMP) check-lock
	$(BIN)/ruff check src tests benchmarks scripts deploy conftest.py
	$(BIN)/ruff format --check src tests benchmarks scripts deploy conftest.py
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Branch coverage of the suite and of every process it starts ([tool.coverage] in
# pyproject.toml): below 90 % the run fails. `PYTEST_ARGS=--no-cov` runs without it.
test: lint assets
	rm -rf build/coverage
	$(BIN)/pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

demo: $(PY_STAMP) assets
	$(BIN)/ollama-webmgr demo

run: $(PY_STAMP) assets
	$(BIN)/ollama-webmgr serve

# gRPC modules of the node agent (committed; tests/agent checks they are current)
proto: $(PY_STAMP)
	$(PY) scripts/gen_proto.py

LIGHTHOUSE := build/lighthouse/node_modules/.bin/lighthouse

$(LIGHTHOUSE):
	npm install --prefix build/lighthouse --no-audit --no-fund --loglevel=error lighthouse@12.8.2

# LiteLLM's proxy and the aiohttp relay (the `bench` extra, locked in uv.lock apart
# from the rest: LiteLLM's own pins clash with ours) in a venv of their own;
# benchmarks/bench_gateway.py runs them as subprocesses.
BENCH_VENV := build/bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): uv.lock $(UV_STAMP)
	$(UV) venv -q --allow-existing --python python3 $(BENCH_VENV)
	$(UV) export -q --frozen --no-header --no-emit-project --format requirements-txt --no-dev --extra bench -o $(BENCH_VENV)/requirements.txt
	$(UV) pip sync -q --require-hashes --python $(BENCH_VENV)/bin/python $(BENCH_VENV)/requirements.txt
	touch $@

bench: $(PY_STAMP) assets $(LIGHTHOUSE) $(BENCH_STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules src/ollama_webmgr/web/static/dist .pytest_cache .mypy_cache .ruff_cache
