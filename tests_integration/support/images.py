"""Which images the suite runs; defaults are the public ones, offline builds override them."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Images:
    rabbitmq: str
    postgres: str
    web: str
    worker: str
    smtp_sink: str

    @classmethod
    def from_environment(cls) -> Images:
        return cls(
            rabbitmq=os.environ.get("RABBITMQ_IMAGE", "rabbitmq:3.13-management"),
            postgres=os.environ.get("POSTGRES_IMAGE", "postgres:16"),
            web=os.environ.get("WEB_IMAGE", "courier/web:dev"),
            worker=os.environ.get("WORKER_IMAGE", "courier/worker:dev"),
            smtp_sink=os.environ.get("SMTP_SINK_IMAGE", "courier/smtp-sink:dev"),
        )
