# Slipway: `make serve` runs the main job, `make test` every test. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Everything: make test, make bench, and the guides that need a framework converter or a
# cloud's tools (each guide names its extra: pip install -e '.[torch]').
EXTRAS ?= dev,convert,aws,torch,keras,text,flask,local,bench,image,cloudrun,docs
# The first run (make serve): the function's runtime, the local platform, and the example's
# converter (scikit-learn to ONNX); no torch, pandas, cloud SDKs or test tools.
SERVE_EXTRAS := local,sklearn
# make docs: MkDocs + Material, and scikit-learn for the example whose /openapi.json the
# HTTP reference is generated from.
DOCS_EXTRAS := sklearn,docs
DOCS_ADDR ?= 127.0.0.1:8000

.PHONY: setup serve test lint typecheck test-all test-unit test-integration bench example clean \
	deploy-check image-tools browser ci-tools docs docs-serve

# One venv; each stamp records which extras are in it (installing more never removes any).
define install
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(1)]'
	touch $@
endef

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(call install,$(EXTRAS))

$(VENV)/.installed-serve: pyproject.toml
	$(call install,$(SERVE_EXTRAS))

$(VENV)/.installed-docs: pyproject.toml
	$(call install,$(DOCS_EXTRAS))

example: $(VENV)/.installed-serve
	$(BIN)/slipway example

# The local platform on https://127.0.0.1:8443 (first run: builds and publishes digits).
serve: example
	$(BIN)/slipway serve

# The documentation site in build/site/ (strict: a broken link or a missing page fails). The CLI,
# HTTP API, configuration, error and serverless.yml references are generated from the code at
# build time (docs/hooks/reference.py). NO_MKDOCS_2_WARNING: Material's banner about MkDocs 2
# (docs/contributing.md says why the site stays on MkDocs 1 for now).
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr $(DOCS_ADDR)

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

# Every test, both tiers (tests/conftest.py marks each one unit or integration); tests/docs
# builds the site strict, checks the generated reference and runs the getting-started pages.
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

test: lint typecheck deploy-check docs test-all

bench: setup example
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench
	$(BIN)/python -m bench photos
	$(BIN)/python -m bench text

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
