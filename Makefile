# Slipway: `make serve` runs the main job, `make test` every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,convert,aws,torch,keras,flask,local,bench,image,cloudrun

.PHONY: setup serve test lint typecheck test-all test-unit test-integration bench example clean \
	deploy-check image-tools browser ci-tools

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

example: setup
	$(BIN)/slipway example

# The local platform on https://127.0.0.1:8443 (first run: builds and publishes digits).
serve: example
	$(BIN)/slipway serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy functions model_store infra bench

# The container image's system tools (skopeo, docker-registry, podman, runc, mmdebstrap, qemu),
# installed only when missing.
image-tools:
	@bash infra/image/system-packages.sh

# Debian's Chromium for tests/browser (headless, loopback only), installed only when missing.
browser:
	@bash infra/local/console/install-chromium.sh

# shellcheck and jq for tests/infra/ci (actionlint, the release job's steps), when missing.
ci-tools:
	@bash infra/ci/system-packages.sh

# Every test, both tiers (tests/conftest.py marks each one unit or integration).
test-all: setup image-tools browser ci-tools
	$(BIN)/pytest -q --durations=25

# The fast loop: in process, no network, no build (under 30 s).
test-unit: setup
	$(BIN)/pytest -q -m unit

test-integration: setup
	$(BIN)/pytest -q -m integration

# serverless.yml: the pinned osls (package-lock.json) packages the real arm64 build with no AWS
# account, cfn-lint checks the template; the layer is rebuilt uncached to prove the digest.
NODE_STAMP := node_modules/.installed
DEPLOY_BUILD := build/3.12-arm64

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deploy-check: setup $(NODE_STAMP)
	$(BIN)/slipway build --arch arm64 --python 3.12
	@before=$$(sha256sum < $(DEPLOY_BUILD)/layer.zip); \
	$(BIN)/slipway build --arch arm64 --python 3.12 --no-cache > /dev/null; \
	after=$$(sha256sum < $(DEPLOY_BUILD)/layer.zip); \
	if [ "$$before" != "$$after" ]; then echo "layer.zip is not reproducible"; exit 1; fi; \
	echo "layer.zip reproducible: $$after"
	rm -rf build/sls-ci
	node_modules/.bin/osls package --stage ci --param offline=true --package build/sls-ci
	$(BIN)/cfn-lint build/sls-ci/cloudformation-template-update-stack.json
	# The optional Flask function (--param flask=true): its real zip, packaged and linted.
	$(BIN)/slipway build --arch arm64 --python 3.12 --function flask > /dev/null
	rm -rf build/sls-ci-flask
	node_modules/.bin/osls package --stage ci --param offline=true --param flask=true \
	    --package build/sls-ci-flask
	$(BIN)/cfn-lint build/sls-ci-flask/cloudformation-template-update-stack.json

test: lint typecheck deploy-check test-all

bench: example
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
