# Image of the web service: the Django API (default command, start-web), the
# outbox relay (command start-relay) and the event consumer (start-consumer).
# Build context: the repository root.
#
#   docker build -f infra/docker/web.Dockerfile -t courier/web:dev .
#   # without an index (wheels from infra/offline/build-wheelhouse.sh):
#   docker build -f infra/docker/web.Dockerfile -t courier/web:dev \
#     --build-arg PYTHON_BASE_IMAGE=courier/python-base:offline --build-arg PIP_NO_INDEX=1 .
#
# Runtime environment: see infra/README.md (DJANGO_SECRET_KEY is required:
# the image runs the production settings).
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
COPY web/requirements.lock /tmp/requirements.lock
RUN export PIP_NO_INDEX="${PIP_NO_INDEX:-0}" \
 && grep -vE '^[[:space:]]*(-e[[:space:]]|\.{1,2}/|/|file:)' /tmp/requirements.lock >/tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-deps -r /tmp/requirements.txt

# The local packages, built from source (never a stale wheel).
COPY shared_contracts/pyproject.toml shared_contracts/README.md /src/shared_contracts/
COPY shared_contracts/src/ /src/shared_contracts/src/
COPY web/pyproject.toml web/README.md /src/web/
COPY web/src/ /src/web/src/
RUN export PIP_NO_INDEX="${PIP_NO_INDEX:-0}" \
 && /opt/venv/bin/pip install --no-deps /src/shared_contracts /src/web \
 && /opt/venv/bin/pip check

COPY infra/docker/web/start-web infra/docker/web/start-relay infra/docker/web/start-consumer /opt/courier/bin/
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

# COURIER_WEB_HOME: the default SQLite file goes to /app/var (writable); set
# DATABASE_URL for anything beyond a single container.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=courier_web.config.settings.production \
    COURIER_WEB_HOME=/app \
    STORAGE_URL=/srv/storage \
    PORT=8000

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Alive = /healthz answers 200. The Host header is the first of
# DJANGO_ALLOWED_HOSTS (default localhost), so that host validation passes.
# The relay (this image with command start-relay) and the consumer (command
# start-consumer) serve no HTTP: each counts as healthy while it runs, and
# the container stops when it does.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request as u;c=open('/proc/1/cmdline','rb').read();(b'relay_outbox' in c or b'consume_events' in c) and sys.exit(0);h=(os.environ.get('DJANGO_ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.').replace('*','localhost') or 'localhost';r=u.urlopen(u.Request('http://127.0.0.1:%s/healthz'%os.environ.get('PORT','8000'),headers={'Host':h}),timeout=4);sys.exit(r.status!=200)"]

# Last, so that a new VERSION/VCS_REF rebuilds no other layer.
ARG VERSION=dev
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="courier-web" \
      org.opencontainers.image.description="Courier web service: Django API with a transactional outbox relayed to RabbitMQ" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}"

CMD ["start-web"]
