"""The whole Courier system on one Docker network, as the suite runs it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from testcontainers.core.network import Network

from .containers import (
    RABBITMQ_WEB_USER,
    RABBITMQ_WORKER_USER,
    Postgres,
    RabbitMQ,
    Redis,
    Relay,
    SmtpSink,
    Web,
    Worker,
)
from .images import Images


@dataclass
class Stack:
    images: Images
    network: Network
    rabbitmq: RabbitMQ
    postgres: Postgres
    smtp: SmtpSink
    #: The web's shared cache and rate-limit store; without it each web process has its own.
    redis: Redis | None = None
    web: Web | None = None
    relay: Relay | None = None
    workers: list[Worker] = field(default_factory=list)

    def web_env(self) -> dict[str, str]:
        shared = {"REDIS_URL": self.redis.internal_url} if self.redis is not None else {}
        return {
            **shared,
            "DJANGO_SETTINGS_MODULE": "courier_web.config.settings.production",
            "DJANGO_SECRET_KEY": f"integration-{uuid.uuid4().hex}{uuid.uuid4().hex}",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,web",
            # TLS ends at the ingress in production; the suite speaks plain HTTP on loopback.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": self.postgres.internal_url("courier_web"),
            # Least privilege (infra/rabbitmq/definitions.json): web may only publish to
            # courier.events, so it checks the exchange passively instead of declaring it.
            "RABBITMQ_URL": self.rabbitmq.internal_url_for(RABBITMQ_WEB_USER),
            "OUTBOX_DECLARE_EXCHANGE": "passive",
            # Hashing cost is not what the suite measures; never set this in production.
            "DJANGO_PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            # The suite posts hundreds of registrations from one client; the limiter
            # has tests of its own against this same image.
            "API_RATE_LIMIT": "off",
        }

    def worker_env(self) -> dict[str, str]:
        return {
            "RABBITMQ_URL": self.rabbitmq.internal_url_for(RABBITMQ_WORKER_USER),
            "WORKER_DATABASE_URL": self.postgres.internal_url("courier_worker"),
            "SMTP_URL": self.smtp.smtp_url,
            "WORKER_CONCURRENCY": "2",
        }

    def start_web(self) -> Web:
        self.web = Web(self.images.web, self.network, self.web_env()).start()
        return self.web

    def start_relay(self) -> Relay:
        self.relay = Relay(self.images.web, self.network, self.web_env()).start()
        return self.relay

    def add_worker(self) -> Worker:
        alias = f"worker-{len(self.workers) + 1}"
        worker = Worker(self.images.worker, self.network, self.worker_env(), alias=alias)
        self.workers.append(worker)  # registered before start, so cleanup sees it
        worker.start()
        return worker

    def remove_worker(self, worker: Worker) -> None:
        self.workers.remove(worker)
        worker.stop()


@contextlib.contextmanager
def running_stack(images: Images) -> Iterator[Stack]:
    """Start the stack; remove every container and the network afterwards, whatever happened."""
    with contextlib.ExitStack() as cleanup:
        network = Network()
        network.create()
        cleanup.callback(network.remove)
        rabbitmq = cleanup.enter_context(RabbitMQ(images.rabbitmq, network))
        postgres = cleanup.enter_context(Postgres(images.postgres, network))
        postgres.create_databases()
        smtp = cleanup.enter_context(SmtpSink(images.smtp_sink, network))
        redis = cleanup.enter_context(Redis(images.redis, network))
        stack = Stack(images, network, rabbitmq, postgres, smtp, redis)
        cleanup.callback(_stop_services, stack)
        stack.start_web()
        stack.start_relay()
        stack.add_worker()
        yield stack


def _stop_services(stack: Stack) -> None:
    for container in [stack.web, stack.relay, *stack.workers]:
        if container is not None:
            with contextlib.suppress(Exception):
                container.stop()
