# Courier — the one entry point for people and CI. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

export UV_PYTHON_DOWNLOADS := never
# Trust the platform's certificate store too (corporate TLS proxies, custom CAs).
export UV_SYSTEM_CERTS := true
UV_VERSION := 0.13.9
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
PYTEST := $(BIN)/pytest
WEB_PORT ?= 8000
COMPONENTS := shared_contracts web worker

-include infra/images.mk
-include bench/bench.mk

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort \
	  | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

# PIP_NO_INDEX=1 (offline CI) is meant for the image builds' wheelhouse, not for
# fetching uv itself: unset it here, or a machine without uv cannot bootstrap.
.tools/bin/uv:
	python3 -m venv .tools
	env -u PIP_NO_INDEX .tools/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml */pyproject.toml | $(UV)
	$(UV) sync --all-packages --all-groups --frozen
	@touch $@

.PHONY: install
install: $(VENV)/.synced ## Create .venv with all three components and the dev tools (from uv.lock)

.PHONY: lock
lock: | $(UV) ## Re-resolve uv.lock and export each component's requirements.lock
	$(UV) lock
	$(UV) export -q --frozen --no-dev --no-hashes --no-emit-workspace --package shared-contracts -o shared_contracts/requirements.lock
	$(UV) export -q --frozen --no-dev --no-hashes --no-emit-workspace --package courier-web -o web/requirements.lock
	$(UV) export -q --frozen --no-dev --no-hashes --no-emit-workspace --package courier-worker -o worker/requirements.lock

.PHONY: schemas
schemas: install ## Regenerate the committed JSON Schemas from the contract models
	$(PYTHON) -m shared_contracts.schema_export --write

# ---------------------------------------------------------------- running

.PHONY: run
run: install prepare-local ## Run web, relay and worker locally (SQLite, .eml mail) with one prefixed log
	WEB_PORT=$(WEB_PORT) $(BIN)/honcho -f infra/dev/Procfile -d . start

.PHONY: run-web
run-web: install prepare-local ## Run the web service and its outbox relay only
	WEB_PORT=$(WEB_PORT) $(BIN)/honcho -f infra/dev/Procfile -d . start web relay

.PHONY: run-worker
run-worker: install prepare-local ## Run the worker service only
	$(BIN)/honcho -f infra/dev/Procfile -d . start worker

.PHONY: prepare-local
prepare-local:
	$(PYTHON) infra/dev/preflight.py
	$(BIN)/courier-web migrate --noinput -v 0
	$(BIN)/courier-worker init-db
	$(BIN)/courier-worker declare-topology

COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_RUN := $(COMPOSE) -p courier -f infra/compose.yaml

.PHONY: up
up: ## Start the full stack in Docker (RabbitMQ + UI, PostgreSQL, web, relay, worker, Flower, SMTP sink)
	$(COMPOSE_RUN) up -d --wait 2>/dev/null || $(COMPOSE_RUN) up -d
	@echo "web http://localhost:$(WEB_PORT)  rabbitmq http://localhost:15672  flower http://localhost:5555  mail http://localhost:8025/messages"

.PHONY: down
down: ## Stop the Docker stack and remove its containers and volumes
	$(COMPOSE_RUN) down -v

# ---------------------------------------------------------------- checks

.PHONY: test
test: lint typecheck check-schemas test-unit test-component test-integration ## Every check and test: lint, types, unit, component, integration

.PHONY: lint
lint: install ## ruff: lint and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: typecheck
typecheck: install ## mypy: strict on shared_contracts, django-stubs on web, celery-types on worker
	cd shared_contracts && ../$(BIN)/mypy
	cd web && ../$(BIN)/mypy
	cd worker && ../$(BIN)/mypy

.PHONY: check-schemas
check-schemas: install ## Fail when a committed JSON Schema drifts from its model
	$(PYTHON) -m shared_contracts.schema_export --check

# Each component runs its own pytest from its own folder, as in its own repository.
# pytest exits 5 when it collects nothing; make treats that as the failure it is.
.PHONY: test-unit
test-unit: install ## Unit tests of every component (no I/O, fakes only)
	$(PYTEST) tests_architecture -q
	for c in $(COMPONENTS); do (cd $$c && ../$(PYTEST) tests/unit -q) || exit 1; done

.PHONY: test-component
test-component: install ## Component tests: each service against the real local RabbitMQ/PostgreSQL
	$(PYTHON) infra/dev/preflight.py
	for c in $(COMPONENTS); do (cd $$c && ../$(PYTEST) tests/component -q) || exit 1; done

.PHONY: test-integration
test-integration: install images ## End-to-end suite: the deployable images on testcontainers
	$(PYTEST) tests_integration -q

.PHONY: clean
clean: ## Remove local state (venv, SQLite files, mail folders)
	rm -rf $(VENV) .tools web/var worker/var .pytest_cache .mypy_cache .ruff_cache
