# Image of the worker service: a Celery worker consuming Courier events
# (command start-worker), or its scheduler, Celery Beat (start-beat), or
# Flower (celery ... flower). Build context: the repository root.
#
#   docker build -f infra/docker/worker.Dockerfile -t courier/worker:dev .
#   # without an index (wheels from infra/offline/build-wheelhouse.sh):
#   docker build -f infra/docker/worker.Dockerfile -t courier/worker:dev \
#     --build-arg PYTHON_BASE_IMAGE=courier/python-base:offline --build-arg PIP_NO_INDEX=1 .
#
# Runtime environment: see infra/README.md.
ARG PYTHON_BASE_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_BASE_IMAGE} AS builder

# 1 = install from the wheelhouse only (offline builds). PIP_INDEX_URL /
# PIP_EXTRA_INDEX_URL: a package index other than PyPI (unset = PyPI).
ARG PIP_NO_INDEX=0
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_FIND_LINKS=/wheels

RUN python3 -m venv /opt/venv

# The wheelhouse may be empty (online builds); it is only ever a source of
# wheels, never a requirement.
COPY infra/build/wheelhouse/ /wheels/

# Pinned third-party dependencies first: this layer survives code changes.
# Workspace members (-e ./x or ./x lines, if an export has them) are installed below.
COPY worker/requirements.lock /tmp/requirements.lock
RUN export PIP_NO_INDEX="${PIP_NO_INDEX:-0}" \
 && grep -vE '^[[:space:]]*(-e[[:space:]]|\.{1,2}/|/|file:)' /tmp/requirements.lock >/tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-deps -r /tmp/requirements.txt

# The local packages, built from source (never a stale wheel).
COPY shared_contracts/pyproject.toml shared_contracts/README.md /src/shared_contracts/
COPY shared_contracts/src/ /src/shared_contracts/src/
COPY worker/pyproject.toml worker/README.md /src/worker/
COPY worker/src/ /src/worker/src/
RUN export PIP_NO_INDEX="${PIP_NO_INDEX:-0}" \
 && /opt/venv/bin/pip install --no-deps /src/shared_contracts /src/worker \
 && /opt/venv/bin/pip check

COPY infra/docker/worker/start-worker infra/docker/worker/start-beat /opt/courier/bin/
RUN chmod 0755 /opt/courier/bin/*

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_BASE_IMAGE}

RUN groupadd --system --gid 10001 courier \
 && useradd --system --uid 10001 --gid courier --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin courier \
 && install -d -o courier -g courier -m 0750 /app \
 && install -d -o courier -g courier -m 0750 /srv/storage

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/courier/bin/ /usr/local/bin/

# COURIER_WORKER_HOME: local state (default SQLite store, .eml mail folder,
# heartbeat file) goes to /app/var (writable).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COURIER_WORKER_HOME=/app \
    STORAGE_URL=/srv/storage \
    WORKER_METRICS_ADDRESS=0.0.0.0

WORKDIR /app
USER 10001:10001

# Alive = the worker's event loop touched its heartbeat file recently.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["courier-worker", "healthcheck"]

# Last, so that a new VERSION/VCS_REF rebuilds no other layer.
ARG VERSION=dev
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="courier-worker" \
      org.opencontainers.image.description="Courier worker service: Celery consumers of Courier events with idempotent handlers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}"

CMD ["start-worker"]
