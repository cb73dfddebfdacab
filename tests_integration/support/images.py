"""Which images the suite runs; defaults are the public ones, offline builds override them.

RabbitMQ 4 is the default broker; ``RABBITMQ_IMAGE`` chooses another (CI's
3.x lane runs the scenarios and fault tests on ``courier/rabbitmq3:offline``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Images:
    rabbitmq: str
    postgres: str
    redis: str
    web: str
    worker: str
    smtp_sink: str
    prometheus: str
    #: PgBouncer, for the scenario that runs the services through a transaction pooler.
    pgbouncer: str
    #: An S3-compatible server (moto's, ``make image-s3-server``): the stack's shared storage.
    s3_server: str = "courier/s3-server:dev"

    @classmethod
    def from_environment(cls) -> Images:
        return cls(
            rabbitmq=os.environ.get("RABBITMQ_IMAGE", "rabbitmq:4.0-management"),
            postgres=os.environ.get("POSTGRES_IMAGE", "postgres:16"),
            redis=os.environ.get("REDIS_IMAGE", "redis:8.0"),
            web=os.environ.get("WEB_IMAGE", "courier/web:dev"),
            worker=os.environ.get("WORKER_IMAGE", "courier/worker:dev"),
            smtp_sink=os.environ.get("SMTP_SINK_IMAGE", "courier/smtp-sink:dev"),
            prometheus=os.environ.get("PROMETHEUS_IMAGE", "prom/prometheus:v2.53.3"),
            pgbouncer=os.environ.get("PGBOUNCER_IMAGE", "edoburu/pgbouncer:v1.24.1-p0"),
            s3_server=os.environ.get("S3_SERVER_IMAGE", "courier/s3-server:dev"),
        )
