# Container images: included by the root
# Makefile, run from the repository root. See infra/README.md.
#
#   make images           web, worker, smtp-sink and the S3 test server from PYTHON_BASE_IMAGE (needs an index)
#   make images-offline   the same without a registry or index: Debian-built
#                         base images + a pip wheelhouse (needs root)

PYTHON ?= .venv/bin/python
DOCKER ?= docker

PYTHON_BASE_IMAGE ?= python:3.11-slim-bookworm
WEB_IMAGE ?= courier/web:dev
WORKER_IMAGE ?= courier/worker:dev
SMTP_SINK_IMAGE ?= courier/smtp-sink:dev
S3_SERVER_IMAGE ?= courier/s3-server:dev
# PgBouncer of the end-to-end suite's transaction-pooling scenario (the suite reads
# PGBOUNCER_IMAGE from the environment; images-offline builds courier/pgbouncer:offline).
PGBOUNCER_IMAGE ?= edoburu/pgbouncer:v1.24.1-p0
# 1: pip in `docker build` installs from infra/build/wheelhouse only.
PIP_NO_INDEX ?= 0
# A package index for pip in `docker build` other than PyPI (optional).
IMAGE_PIP_INDEX_URL ?=
IMAGE_PIP_EXTRA_INDEX_URL ?=
# Extra `docker build` flags, e.g. --no-cache or --network host.
DOCKER_BUILD_FLAGS ?=
IMAGE_VERSION ?= dev
IMAGE_VCS_REF ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

OFFLINE_PYTHON_BASE_IMAGE := courier/python-base:offline
WHEELHOUSE := infra/build/wheelhouse

# BuildKit needs the buildx plugin with a recent client (Docker 20.10 from
# Debian has none): use it when present, else the classic builder. The
# Dockerfiles work with both. Override with DOCKER_BUILDKIT=0|1.
IMAGES_BUILDKIT = $(or $(DOCKER_BUILDKIT),$(shell $(DOCKER) buildx version >/dev/null 2>&1 && echo 1 || echo 0))

# $(call docker_build,Dockerfile,tag)
define docker_build
	@if [ "$(PIP_NO_INDEX)" = 1 ] && ! ls $(WHEELHOUSE)/*.whl >/dev/null 2>&1; then \
	  echo "PIP_NO_INDEX=1 but $(WHEELHOUSE) has no wheels: run 'make wheelhouse' first" >&2; exit 1; fi
	DOCKER_BUILDKIT=$(IMAGES_BUILDKIT) $(DOCKER) build --force-rm $(DOCKER_BUILD_FLAGS) --file $(1) --tag $(2) \
	  --build-arg PYTHON_BASE_IMAGE=$(PYTHON_BASE_IMAGE) \
	  --build-arg PIP_NO_INDEX=$(PIP_NO_INDEX) \
	  $(if $(IMAGE_PIP_INDEX_URL),--build-arg PIP_INDEX_URL=$(IMAGE_PIP_INDEX_URL)) \
	  $(if $(IMAGE_PIP_EXTRA_INDEX_URL),--build-arg PIP_EXTRA_INDEX_URL=$(IMAGE_PIP_EXTRA_INDEX_URL)) \
	  --build-arg VERSION=$(IMAGE_VERSION) \
	  --build-arg VCS_REF=$(IMAGE_VCS_REF) \
	  .
endef

.PHONY: images image-web image-worker image-smtp-sink image-s3-server images-offline base-images-offline wheelhouse

images: image-web image-worker image-smtp-sink image-s3-server ## Build the web, worker, smtp-sink and S3 test server images from PYTHON_BASE_IMAGE

image-web: | $(WHEELHOUSE) ## Build the web image (WEB_IMAGE; its relay runs it with `start-relay`)
	$(call docker_build,infra/docker/web.Dockerfile,$(WEB_IMAGE))

image-worker: | $(WHEELHOUSE) ## Build the worker image (WORKER_IMAGE)
	$(call docker_build,infra/docker/worker.Dockerfile,$(WORKER_IMAGE))

image-smtp-sink: | $(WHEELHOUSE) ## Build the SMTP sink used by the tests and compose (SMTP_SINK_IMAGE)
	$(call docker_build,infra/docker/smtp-sink.Dockerfile,$(SMTP_SINK_IMAGE))

image-s3-server: | $(WHEELHOUSE) ## Build the S3-compatible server (moto) the tests store in (S3_SERVER_IMAGE)
	$(call docker_build,infra/docker/s3-server.Dockerfile,$(S3_SERVER_IMAGE))

# The base images wait on the Debian mirror, the wheelhouse on PyPI: side by side.
images-offline: ## Build every image without a registry: base images from Debian packages, wheels from a wheelhouse (root)
	@infra/offline/build-base-images.sh & base=$$!; wheels=0; bases=0; \
	  PYTHON=$(PYTHON) infra/offline/build-wheelhouse.sh || wheels=$$?; \
	  wait $$base || bases=$$?; \
	  [ $$wheels -eq 0 ] || echo "images-offline: the wheelhouse failed (exit $$wheels)" >&2; \
	  [ $$bases -eq 0 ] || echo "images-offline: the base images failed (exit $$bases)" >&2; \
	  [ $$wheels -eq 0 ] && [ $$bases -eq 0 ]
	$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) images \
	  PYTHON_BASE_IMAGE=$(OFFLINE_PYTHON_BASE_IMAGE) PIP_NO_INDEX=1

base-images-offline: ## Build the courier/*:offline base images (see infra/offline/build-base-images.sh) from Debian packages (root)
	infra/offline/build-base-images.sh

wheelhouse: ## Fill infra/build/wheelhouse with wheels of every pinned requirement of the images
	PYTHON=$(PYTHON) infra/offline/build-wheelhouse.sh

$(WHEELHOUSE):
	mkdir -p $@
