# An S3-compatible server for the integration suite's shared storage: moto's
# server (S3 only) on port 9000. Built from PyPI wheels, so it needs no image
# registry: offline, from the wheelhouse (infra/offline/build-wheelhouse.sh).
# Build context: the repository root.
#
#   docker build -f infra/docker/s3-server.Dockerfile -t courier/s3-server:dev .
#   # offline: --build-arg PYTHON_BASE_IMAGE=courier/python-base:offline --build-arg PIP_NO_INDEX=1
ARG PYTHON_BASE_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_BASE_IMAGE} AS builder
ARG PIP_NO_INDEX=0
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_FIND_LINKS=/wheels
RUN python3 -m venv /opt/venv
COPY infra/build/wheelhouse/ /wheels/
COPY infra/s3-server/requirements.lock /tmp/requirements.lock
RUN export PIP_NO_INDEX="${PIP_NO_INDEX:-0}" \
 && /opt/venv/bin/pip install --no-deps -r /tmp/requirements.lock \
 && /opt/venv/bin/pip check

FROM ${PYTHON_BASE_IMAGE}
RUN groupadd --system --gid 10001 courier \
 && useradd --system --uid 10001 --gid courier --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin courier
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u;u.urlopen('http://127.0.0.1:9000/moto-api/',timeout=2)"]
ARG VERSION=dev
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="courier-s3-server" \
      org.opencontainers.image.description="S3-compatible server (moto) for Courier's tests" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}"
CMD ["moto_server", "-H", "0.0.0.0", "-p", "9000"]
