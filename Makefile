# Developer and CI entry points. `make test` is what CI runs (.ci/run) and what the README documents.
#
#   make venv     .venv with requirements-dev.txt (newest Python 3.13/3.12/3.11 found; PYTHON=... to choose)
#                 and .venv-scan with requirements-scan.txt (checkov, whose pins conflict with .venv's)
#   make test     lint + type check + template checks + every tier of tests: the unit tier beside the checks,
#                 integration and e2e in one pytest session on PYTEST_WORKERS=2 pytest-xdist workers (TEST_JOBS=2
#                 make jobs at once; --keep-going reports every failing one)
#   make unit     the inner loop: tests/unit, logic only (no emulator, database server, network or other
#                 program: tests/unit/conftest.py refuses them), in one process; needs .venv alone
#   make integration  tests/integration: the handlers and the strict emulator on moto, no state machine run
#   make e2e      tests/e2e: the real ASL on moto's Step Functions, the real database servers (make databases),
#                 the CLI and the demo over HTTP (test_sam_local.py is make test-sam-local's)
#                 (PYTEST_ARGS=... is passed to each of their pytest runs, make test's too: -x, -k WORDS;
#                 PYTEST_WORKERS=0 runs integration and e2e in one process; one file: .venv/bin/pytest FILE)
#   make lint     ruff, mypy, cfn-lint, sam validate --lint, checkov (both templates: template.yaml and
#                 nekt-account/template.yaml)
#   make docs     the documentation site (mkdocs.yml, docs/) with mkdocs build --strict into build/site: a broken
#                 link or anchor between pages, or a page left out of the nav, fails it (part of make test)
#   make build    sam build (no container; needs a python3.13, the functions' runtime), then the bytecode (nekt_peering's
#                 in place of its sources)
#                 (BUILD_ARGS=... passed to sam build)
#   make demo     the nekt-peering CLI against an emulated AWS on 127.0.0.1:5123 (DEMO_ARGS=--keep, --port N, --host H)
#   make demo-install  the onboarding loop on an emulated AWS in process: make build released, nekt-peering onboard,
#                 the customer's stack installed from its quick-create link, Stack Installed on Nekt's bus, a connect
#                 and a disconnect through the installed API and their results on Nekt's bus (needs a python3.13)
#   make events   the emulator's event samples (EVENTS_ARGS=... passed through)
#   make databases  the real database servers the tests and the demo start on 127.0.0.1: PostgreSQL's
#                 binaries from the pgserver wheel (PyPI), unpacked outside the checkout, where the user
#                 PostgreSQL runs as can reach them whatever directory the checkout is in (as root:
#                 /var/cache/nekt-peering; else ~/.cache/nekt-peering; `python -m emulator.databases where`);
#                 Debian's postgresql (for a TLS-only server: the wheel is built without SSL) and
#                 mariadb-server, installed with apt-get (as root) when missing
#   make invoke   sam local invoke FUNCTION with EVENT in a Lambda container, against `make demo DEMO_ARGS=--keep`
#                 (after make build; ARCHITECTURE=x86_64 by default; Docker and the Lambda base image)
#   make lambda-image  a local stand-in for the Lambda base image, for machines that cannot pull it (root)
#   make test-sam-local  the sam local test (tests/e2e/test_sam_local.py): builds, then invokes DiscoverFunction and
#                 ApiFunction in containers against the demo; needs Docker (CI: root installs it, see .ci/run)
#   make release  VERSION=x.y.z REGIONS="us-east-1 eu-west-1" BUCKET_PREFIX=...: make build, then publishes it
#                 to each Region's bucket <BUCKET_PREFIX>-<region> with the credentials of the environment
#                 (nekt_peering_cli/release.py; docs/deploying.md, Releases); RELEASE_ARGS=--endpoint-url ...
#   make bench    what a connection costs, measured on the emulator -> docs/benchmarks.md (not in test)
#   make validators  regenerates functions/nekt_peering/core/validators/: the inputs' from nekt_peering.core.model's
#                 schemas, the stage event's derived from the TypedDicts of nekt_peering.core.shapes
#   make openapi  regenerates api/openapi.yaml's schemas (below its marker line) and info.version: the connect
#                 input's from its JSON schema, the answers' from nekt_peering.core.shapes; pyproject's version
#   make statemachines  regenerates statemachine/*.asl.json from tools/generate_statemachines.py (the
#                 compensation chain and the Retry/Catch policies stated once: docs/state-machines.md)
#   make clean    removes .venv, .venv-scan, .aws-sam and the tool caches (not make databases' PostgreSQL,
#                 a cache shared by every checkout)
#
# Nothing here needs an AWS account or network access beyond PyPI (venv, sam build), and Debian's archive
# for make lambda-image. checkov runs
# offline: --skip-download and BC_SKIP_MAPPING keep it from fetching policies or guidelines, and it is
# given no API key.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test
MAKEFLAGS += --no-builtin-rules

VENV := .venv
BIN := $(VENV)/bin
TEMPLATE := template.yaml
# Every template the checks cover: the main stack and the Nekt-account stack (the accepter role).
TEMPLATES := $(TEMPLATE) nekt-account/template.yaml
SCAN_VENV := .venv-scan
SCAN_BIN := $(SCAN_VENV)/bin

# Python for the venv: PYTHON=/path/to/python overrides the search below.
PYTHON ?=
PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null || echo "$${PYENV_ROOT:-$$HOME/.pyenv}")

# Checks never reach a real AWS account: fixed region, dummy credentials, no profile or config files.
OFFLINE_AWS := env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL \
	AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
SAM_ENV := SAM_CLI_TELEMETRY=0

# sam build resolves the runtime (python3.13) on PATH: put an installed 3.13 first when pyenv has one.
# The venv's own bin comes last, as a fallback when the venv itself is a 3.13.
PY313_DIRS := $(patsubst %/python3.13,%,$(wildcard $(PYENV_ROOT_DIR)/versions/3.13*/bin/python3.13))
BUILD_PATH := $(foreach dir,$(PY313_DIRS),$(dir):)$$PATH:$(abspath $(BIN))

.PHONY: venv test all-checks unit integration e2e integration-e2e lint ruff mypy cfn-lint sam-validate checkov \
	build release demo demo-install events bench databases validators openapi statemachines invoke lambda-image test-sam-local clean

venv: $(VENV)/.installed $(SCAN_VENV)/.installed

# Newest usable python3.13 / 3.12 / 3.11 on PATH or under $(pyenv root)/versions. "Usable" means it
# runs (a pyenv shim for a version that is not selected does not) and can create a venv with pip.
$(VENV)/.installed: requirements-dev.txt layer/requirements.txt pyproject.toml
	@python="$(PYTHON)"; \
	usable() { "$$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }; \
	if [ -z "$$python" ]; then \
	  for minor in 3.13 3.12 3.11; do \
	    for candidate in $$(command -v "python$$minor" 2>/dev/null) \
	        $$(ls -d "$(PYENV_ROOT_DIR)"/versions/"$$minor".*/bin/python"$$minor" 2>/dev/null | sort -rV); do \
	      if usable "$$candidate"; then python="$$candidate"; break 2; fi; \
	    done; \
	  done; \
	fi; \
	if [ -n "$$python" ] && ! usable "$$python"; then \
	  echo "error: PYTHON=$$python is not a Python >= 3.11 with venv and ensurepip" >&2; exit 1; \
	fi; \
	if [ -z "$$python" ]; then \
	  echo "error: no usable Python >= 3.11 (python3.13, python3.12 or python3.11 with venv and ensurepip)" >&2; \
	  echo "       on PATH or under $(PYENV_ROOT_DIR)/versions. Install one, or run: make venv PYTHON=/path/to/python3.x" >&2; \
	  exit 1; \
	fi; \
	if [ -x "$(BIN)/python" ] && ! usable "$(BIN)/python"; then rm -rf "$(VENV)"; fi; \
	if [ ! -x "$(BIN)/python" ]; then \
	  echo "Creating $(VENV) with $$python ($$("$$python" -V 2>&1))"; \
	  "$$python" -m venv "$(VENV)"; \
	fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable .
	@touch $@

# Same interpreter as .venv (venv run from a venv's python builds on its base interpreter).
$(SCAN_VENV)/.installed: requirements-scan.txt $(VENV)/.installed
	@if [ -x "$(SCAN_BIN)/python" ] && ! "$(SCAN_BIN)/python" -c '' >/dev/null 2>&1; then rm -rf "$(SCAN_VENV)"; fi
	@if [ ! -x "$(SCAN_BIN)/python" ]; then echo "Creating $(SCAN_VENV)"; $(BIN)/python -m venv "$(SCAN_VENV)"; fi
	$(SCAN_BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(SCAN_BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	@touch $@

# Two make jobs at once (TEST_JOBS): the slow tiers' session, first, on its two workers, and beside it the
# unit tier, then the checks one after the other: each check runs on one core, and the session leaves a
# worker idle at its end. --output-sync: each check's output whole, when it ends; the session's as it goes
# (its line starts with `+`, which output-sync leaves alone: `make -n test` runs it too).
TEST_JOBS ?= 2

test:
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target all-checks

all-checks: integration-e2e unit lint docs

lint: ruff mypy cfn-lint sam-validate checkov

ruff: venv
	$(BIN)/ruff check .

mypy: venv
	$(BIN)/mypy

cfn-lint: venv
	$(BIN)/cfn-lint $(TEMPLATES)

sam-validate: venv
	for template in $(TEMPLATES); do \
	  $(OFFLINE_AWS) $(SAM_ENV) $(BIN)/sam validate --lint --template-file "$$template"; \
	done

# Zero failed checks; each skip is justified in the template's Metadata (checkov: skip: id, comment).
checkov: venv
	$(OFFLINE_AWS) BC_SKIP_MAPPING=TRUE $(SCAN_BIN)/checkov --quiet --compact --skip-download \
	  --framework cloudformation $(foreach template,$(TEMPLATES),--file $(template))

# mkdocs.yml sets strict and makes every link problem a warning; nothing is fetched (no plugin but search).
# NO_MKDOCS_2_WARNING: silences the notice Material for MkDocs prints on every build.
.PHONY: docs
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# Two workers: the machines have two cores, and the session is CPU-bound (a file's CPU time is about its
# wall time, measured; the demo's waits are the exception).
# --dist loadfile: a file's tests run on one worker, so a module fixture (test_strict_iam.py's baseline,
# every scenario once) is set up once; tests/conftest.py puts the longest files first (LONGEST_FILES). Each
# worker starts its own database servers (free ports, own directories: emulator/databases.py).
PYTEST_WORKERS ?= 2
# --no-loadscope-reorder: the files in tests/conftest.py's order (LONGEST_FILES first), not by number of tests.
XDIST := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
PYTEST_ARGS ?=

# One process: xdist's workers would cost more to start than the tier takes.
unit: $(VENV)/.installed
	$(BIN)/pytest -p no:xdist tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed
	$(BIN)/pytest $(XDIST) tests/integration $(PYTEST_ARGS)

e2e: $(VENV)/.installed databases
	$(BIN)/pytest $(XDIST) tests/e2e $(PYTEST_ARGS)

# make test's: both slow tiers in one session, so that its workers share them out to the end.
integration-e2e: $(VENV)/.installed databases
	+$(BIN)/pytest $(XDIST) tests/integration tests/e2e $(PYTEST_ARGS)

# PostgreSQL's binaries outside the checkout (emulator/databases.py, postgres_home: where it chooses, why),
# downloaded with .venv's pip when missing; Debian's servers with apt-get.
databases: $(VENV)/.installed
	$(BIN)/python -m emulator.databases install-postgresql
	@missing=""; \
	command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing="mariadb-server"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "error: the tests need Debian's$$missing: run as root, or apt-get install$$missing" >&2; exit 1; \
	  fi; \
	  echo "Installing$$missing (Debian) for the tests' real database servers"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $$missing >/dev/null; \
	fi

build: venv
	@PATH="$(BUILD_PATH)" command -v python3.13 >/dev/null || { \
	  echo "error: sam build needs python3.13 (the functions' runtime) on PATH or under $(PYENV_ROOT_DIR)/versions" >&2; exit 1; }
	PATH="$(BUILD_PATH)" $(SAM_ENV) $(BIN)/sam build --template-file $(TEMPLATE) $(BUILD_ARGS)
	@# Lambda's code is read-only: without bytecode in the package, every cold start compiles every module.
	@# nekt_peering ships as bytecode alone, each module's .pyc where its .py was (Python imports it without a
	@# source): source and bytecode both made every function's package twice as large (docs/costs-and-benchmarks.md,
	@# "Cold start and package size"). Compiled from inside the function's directory, so tracebacks name
	@# nekt_peering/<module>.py.
	@# The layer keeps its sources (nekt_peering.api.deferred_packages reads two of Powertools' __init__ as text);
	@# unchecked-hash: the zip's 2-second mtimes would make timestamp-checked bytecode look stale.
	for dir in .aws-sam/build/*/; do \
	  if [ -d "$$dir/nekt_peering" ]; then \
	    (cd "$$dir" && PATH="$(BUILD_PATH)" python3.13 -m compileall -q -j 0 -b nekt_peering \
	      && find nekt_peering -name '*.py' -delete); \
	  else \
	    PATH="$(BUILD_PATH)" python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash "$$dir"; \
	  fi; \
	done

# One build, published: the release refuses a VERSION other than the built template's (pyproject.toml's).
VERSION ?=
REGIONS ?=
BUCKET_PREFIX ?=
RELEASE_ARGS ?=

release: build
	@[ -n "$(VERSION)" ] && [ -n "$(REGIONS)" ] && [ -n "$(BUCKET_PREFIX)" ] || { \
	  echo 'usage: make release VERSION=x.y.z REGIONS="us-east-1 eu-west-1" BUCKET_PREFIX=nekt-peering-releases' >&2; exit 2; }
	$(BIN)/python -m nekt_peering_cli.release --version "$(VERSION)" --regions "$(REGIONS)" \
	  --bucket-prefix "$(BUCKET_PREFIX)" $(RELEASE_ARGS)

demo: venv databases
	$(OFFLINE_AWS) $(BIN)/python -m emulator.demo $(DEMO_ARGS)

demo-install: build
	$(OFFLINE_AWS) $(BIN)/python -m emulator.demo_install $(DEMO_ARGS)

events: venv
	$(OFFLINE_AWS) $(BIN)/python -m emulator.events $(EVENTS_ARGS)

# Package sizes come from sam build's output; without a python3.13 the rest is still measured.
bench: venv
	-$(MAKE) --no-print-directory build
	$(OFFLINE_AWS) $(BIN)/python -m emulator.bench

# sam local: the functions run x86_64 here, whatever the template deploys (arm64 by default), so that an
# x86 machine needs no emulation. docs/usage.md, "Running a function locally (sam local)".
ARCHITECTURE ?= x86_64
FUNCTION ?= DiscoverFunction
EVENT ?= events/discover.json
LAMBDA_IMAGE := public.ecr.aws/lambda/python:3.13-$(ARCHITECTURE)

invoke: venv
	$(BIN)/python tools/sam_local.py $(FUNCTION) $(EVENT) --architecture $(ARCHITECTURE) --sam $(BIN)/sam

# Only when Docker does not have the image yet (pulled, or built before). pip: the venv's.
lambda-image: venv
	@if docker image inspect $(LAMBDA_IMAGE) >/dev/null 2>&1; then echo "$(LAMBDA_IMAGE): present"; else \
	  PATH="$(BUILD_PATH)" tools/lambda-base-image.sh $(ARCHITECTURE) $(BIN)/pip; fi

test-sam-local: venv
	$(BIN)/pytest -m sam_local tests/e2e/test_sam_local.py

validators: venv
	$(BIN)/python -m tools.generate_validators

openapi: venv
	$(BIN)/python -m tools.generate_openapi

statemachines: venv
	$(BIN)/python -m tools.generate_statemachines

clean:
	rm -rf $(VENV) $(SCAN_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
