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

# The system's AsyncAPI document (the web serves it at /api/asyncapi.json) and
# its readable page, composed by shared_contracts from the contracts and each
# service's part, which the service reads off its own declarations.
ASYNCAPI_JSON := web/src/courier_web/api/asyncapi.json
ASYNCAPI_PAGE := docs/asyncapi.md
ASYNCAPI_TOOLS := tools/asyncapi
# $(1): --check, or nothing to write the files.
define compose_asyncapi
parts="$$(mktemp -d)"; trap 'rm -rf "$$parts"' EXIT; \
DJANGO_SETTINGS_MODULE=courier_web.config.settings.base \
  $(BIN)/courier-web asyncapi_part --output "$$parts/web.json"; \
$(BIN)/courier-worker asyncapi-part --output "$$parts/worker.json"; \
$(PYTHON) -m shared_contracts.asyncapi $(1) --json $(ASYNCAPI_JSON) --markdown $(ASYNCAPI_PAGE) \
  "$$parts/web.json" "$$parts/worker.json"
endef

.PHONY: asyncapi
asyncapi: install ## Regenerate the AsyncAPI document (served at /api/asyncapi.json) and docs/asyncapi.md
	@$(call compose_asyncapi,)

# The official parser (@asyncapi/parser, from the npm registry), pinned by its lock file.
$(ASYNCAPI_TOOLS)/node_modules/.installed: $(ASYNCAPI_TOOLS)/package.json $(ASYNCAPI_TOOLS)/package-lock.json
	@command -v npm >/dev/null || { echo "the AsyncAPI check needs Node.js 18+ and npm (apt-get install nodejs npm)" >&2; exit 1; }
	cd $(ASYNCAPI_TOOLS) && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# ---------------------------------------------------------------- running

.PHONY: run
run: install prepare-web prepare-worker ## Run web, relay, consumer and worker locally (SQLite, .eml mail) with one prefixed log
	WEB_PORT=$(WEB_PORT) $(BIN)/honcho -f infra/dev/Procfile -d . start

.PHONY: run-web
run-web: install prepare-web ## Run the web service, its outbox relay and its event consumer only
	WEB_PORT=$(WEB_PORT) $(BIN)/honcho -f infra/dev/Procfile -d . start web relay consumer

# QUEUES=critical or QUEUES=bulk: this worker consumes that queue only
# (WORKER_QUEUES), under a node name of its own and without a metrics port
# (two workers on one machine would want the same one); run one per queue.
comma := ,
.PHONY: run-worker
run-worker: install prepare-worker ## Run the worker service only (QUEUES=critical or QUEUES=bulk: that queue only)
	$(if $(QUEUES),WORKER_QUEUES='$(QUEUES)' WORKER_NODE='worker-$(subst $(comma),-,$(QUEUES))' \
	  WORKER_METRICS_PORT="$${WORKER_METRICS_PORT:-0}") \
	  $(BIN)/honcho -f infra/dev/Procfile -d . start worker

# Each side prepares only what it uses, as when it is deployed: the web its
# database, the worker its own database and its queues. A lock per side lets
# two starts of the same side run at once (the second waits, then finds the
# work done); without it two migrations of one SQLite file collide.
LOCKED := $(PYTHON) infra/dev/locked.py

.PHONY: preflight
preflight: install
	$(PYTHON) infra/dev/preflight.py

.PHONY: prepare-web
prepare-web: install preflight
	$(LOCKED) web/var/.prepare.lock -- $(BIN)/courier-web migrate --noinput -v 0

.PHONY: prepare-worker
prepare-worker: install preflight
	$(LOCKED) worker/var/.prepare.lock -- sh -c \
	  '$(BIN)/courier-worker init-db && $(BIN)/courier-worker declare-topology'

# ---------------------------------------------------------------- the Docker stack

COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# Several stacks side by side (the integration test runs its own): one project each.
COMPOSE_PROJECT ?= $(or $(COMPOSE_PROJECT_NAME),courier)
COMPOSE_RUN := $(COMPOSE) -p $(COMPOSE_PROJECT) -f infra/compose.yaml
# Host ports of the stack (all on 127.0.0.1); compose.yaml reads the same names.
COURIER_RABBITMQ_PORT ?= 5672
COURIER_RABBITMQ_UI_PORT ?= 15672
COURIER_POSTGRES_PORT ?= 5432
COURIER_MAIL_PORT ?= 8025
COURIER_FLOWER_PORT ?= 5555
export WEB_PORT COURIER_RABBITMQ_PORT COURIER_RABBITMQ_UI_PORT COURIER_POSTGRES_PORT COURIER_MAIL_PORT COURIER_FLOWER_PORT
# Seconds `make up` waits for every service to be healthy and the web ready.
UP_TIMEOUT ?= 240
WAIT_FOR_STACK := python3 infra/dev/wait_for_stack.py --project $(COMPOSE_PROJECT) \
  --ready-url http://127.0.0.1:$(WEB_PORT)/readyz

# Compose v2 waits itself (`up --wait`); Compose 1.29 (Debian's docker-compose)
# does not know the flag, prints its usage and exits 0, so check its help
# first. Then wait_for_stack.py checks both the same way, with a deadline,
# and names the service that is not up with its last log lines. It waits for
# every container compose started: 1.29's `config --services` also lists the
# services of profiles that are not active (COMPOSE_PROFILES=cluster).
.PHONY: up
up: ## Start the full stack in Docker (RabbitMQ + UI, PostgreSQL, web, relay, worker, Flower, SMTP sink)
	@services="$$($(COMPOSE_RUN) config --services)"; \
	help="$$($(COMPOSE_RUN) up --help 2>&1 || true)"; \
	wait_flag=""; case "$$help" in *--wait*) wait_flag="--wait";; esac; \
	echo "$(COMPOSE_RUN) up -d $$wait_flag"; \
	if ! $(COMPOSE_RUN) up -d $$wait_flag; then \
	  $(WAIT_FOR_STACK) --timeout 0 $$(printf -- ' --service %s' $$services) || true; \
	  echo "make up: compose could not start the stack. A host port in use? Choose others with" \
	    "COURIER_RABBITMQ_PORT, COURIER_POSTGRES_PORT, ... (infra/README.md)." \
	    "\`make down COMPOSE_PROJECT=$(COMPOSE_PROJECT)\` removes what it left." >&2; \
	  exit 1; \
	fi; \
	echo "waiting up to $(UP_TIMEOUT) s for every service to be healthy and the web ready"; \
	if ! $(WAIT_FOR_STACK) --timeout $(UP_TIMEOUT); then \
	  echo "make up: the stack did not come up (\`make down COMPOSE_PROJECT=$(COMPOSE_PROJECT)\` removes it)" >&2; \
	  exit 1; \
	fi
	@echo "web http://localhost:$(WEB_PORT)  rabbitmq http://localhost:$(COURIER_RABBITMQ_UI_PORT) (amqp localhost:$(COURIER_RABBITMQ_PORT))  postgres localhost:$(COURIER_POSTGRES_PORT)  flower http://localhost:$(COURIER_FLOWER_PORT)  mail http://localhost:$(COURIER_MAIL_PORT)/messages"

.PHONY: down
down: ## Stop the Docker stack and remove its containers and volumes
	$(COMPOSE_RUN) down -v

# ---------------------------------------------------------------- checks

# The static checks and the unit tests need nothing but a core, so they run
# two at a time; the tests against services (component, bench, integration)
# measure waits and timeouts, so they run one after another.
STATIC_CHECKS := lint typecheck check-schemas check-asyncapi check-observability test-unit

.PHONY: test
test: install ## Every check and test: lint, types, unit, component, bench smoke, integration
	$(MAKE) --no-print-directory -j2 --output-sync=target $(STATIC_CHECKS)
	$(MAKE) --no-print-directory test-component test-bench test-integration

.PHONY: lint
lint: install ## ruff: lint and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: typecheck
typecheck: install ## mypy: strict on shared_contracts, django-stubs on web, celery-types on worker, the bench and infra/k8s/tools
	cd shared_contracts && ../$(BIN)/mypy
	cd web && ../$(BIN)/mypy
	cd worker && ../$(BIN)/mypy
	cd bench && ../$(BIN)/mypy
	cd infra/k8s/tools && ../../../$(BIN)/mypy --strict --python-version 3.11 *.py

.PHONY: check-schemas
check-schemas: install ## Fail when a committed JSON Schema drifts from its model
	$(PYTHON) -m shared_contracts.schema_export --check

.PHONY: check-asyncapi
check-asyncapi: install $(ASYNCAPI_TOOLS)/node_modules/.installed ## Fail when the AsyncAPI document drifts from the declarations or the official parser refuses it
	@$(call compose_asyncapi,--check)
	node $(ASYNCAPI_TOOLS)/validate.mjs $(ASYNCAPI_JSON)

# Debian's `prometheus` package brings promtool (.ci/run installs it).
OBSERVABILITY := infra/observability
.PHONY: check-observability
check-observability: ## Prometheus config and alerting rules: promtool check, and the rules' unit tests
	@command -v promtool >/dev/null || { echo "promtool is missing: apt-get install --no-install-recommends prometheus" >&2; exit 1; }
	promtool check config $(OBSERVABILITY)/prometheus.yml
	promtool check rules $(OBSERVABILITY)/rules/*.yml
	promtool test rules $(OBSERVABILITY)/tests/*.yml

# Each component runs its own pytest from its own folder, as in its own repository.
# pytest exits 5 when it collects nothing; make treats that as the failure it is.
.PHONY: test-unit
test-unit: install ## Unit tests of every component (no I/O, fakes only)
	$(PYTEST) tests_architecture -q
	for c in $(COMPONENTS); do (cd $$c && ../$(PYTEST) tests/unit -q) || exit 1; done

.PHONY: test-component
test-component: install ## Component tests: each service, and the guide's event end to end, against the real local RabbitMQ/PostgreSQL
	$(PYTHON) infra/dev/preflight.py
	for c in $(COMPONENTS); do (cd $$c && ../$(PYTEST) tests/component -q) || exit 1; done
	$(PYTEST) tests_guide -q

# The rolling-deploy tests (tests_integration/deploy/) run these beside the
# images above: the same source with one contract changed
# (infra/deploy/next-contract/). Their layers are mostly the cached ones.
WEB_NEXT_IMAGE ?= $(WEB_IMAGE)-next
WORKER_NEXT_IMAGE ?= $(WORKER_IMAGE)-next
export WEB_NEXT_IMAGE WORKER_NEXT_IMAGE

.PHONY: images-next
images-next: | $(WHEELHOUSE) ## Build WEB_NEXT_IMAGE and WORKER_NEXT_IMAGE: this source with the next contract (infra/deploy/next-contract)
	MAKE="$(MAKE)" infra/deploy/next-contract/build-images.sh

.PHONY: test-integration
test-integration: install images images-next ## End-to-end suite: the deployable images on testcontainers
	$(PYTEST) tests_integration -q --durations=15

# The suite runs on RabbitMQ 4 (RABBITMQ_IMAGE); users still on 3.x are
# covered by this lane: the scenarios and the fault tests on a 3.x broker,
# less those whose subject is not the broker (PostgreSQL's faults, PgBouncer,
# Prometheus, Redis), which the RabbitMQ 4 run covers.
RABBITMQ3_IMAGE ?= rabbitmq:3.13-management
RABBITMQ3_LANE_SKIPS := not test_database_outages and not test_pgbouncer and not test_prometheus and not test_rate_limit_redis

.PHONY: test-integration-rabbitmq3
test-integration-rabbitmq3: install images ## The scenarios and fault tests on RabbitMQ 3.x (RABBITMQ3_IMAGE): CI's 3.x lane
	RABBITMQ_IMAGE=$(RABBITMQ3_IMAGE) $(PYTEST) tests_integration/scenarios tests_integration/faults \
	  -k "$(RABBITMQ3_LANE_SKIPS)" -q --durations=15

.PHONY: clean
clean: ## Remove local state (venv, SQLite files, mail folders)
	rm -rf $(VENV) .tools web/var worker/var .pytest_cache .mypy_cache .ruff_cache bench/.pytest_cache bench/.mypy_cache $(ASYNCAPI_TOOLS)/node_modules
