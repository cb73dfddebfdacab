# SMTP sink for the integration suite and the compose stack: SMTP on 1025,
# JSON API on 8025 (see infra/smtp-sink/smtp_sink.py). Build context: the
# repository root.
#
#   docker build -f infra/docker/smtp-sink.Dockerfile -t courier/smtp-sink:dev .
#   # offline: --build-arg PYTHON_BASE_IMAGE=courier/python-base:offline --build-arg PIP_NO_INDEX=1
ARG PYTHON_BASE_IMAGE=python:3.11-slim-bookworm

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
COPY infra/build/wheelhouse/ /wheels/
COPY infra/smtp-sink/requirements.lock /tmp/requirements.lock
RUN export PIP_NO_INDEX="${PIP_NO_INDEX:-0}" \
 && /opt/venv/bin/pip install --no-deps -r /tmp/requirements.lock \
 && /opt/venv/bin/pip check

FROM ${PYTHON_BASE_IMAGE}
RUN groupadd --system --gid 10001 courier \
 && useradd --system --uid 10001 --gid courier --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin courier
COPY --from=builder /opt/venv /opt/venv
COPY infra/smtp-sink/smtp_sink.py /opt/smtp-sink/smtp_sink.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 1025 8025
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os,urllib.request as u;u.urlopen('http://127.0.0.1:%s/healthz'%os.environ.get('SMTP_SINK_HTTP_PORT','8025'),timeout=2)"]
ARG VERSION=dev
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="courier-smtp-sink" \
      org.opencontainers.image.description="SMTP sink with a JSON API and fault injection, for Courier's tests" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}"
CMD ["python", "/opt/smtp-sink/smtp_sink.py"]
