"""The whole Courier system on one Docker network, as the suite runs it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import docker
from testcontainers.core.network import Network

from .containers import (
    RABBITMQ_WEB_USER,
    RABBITMQ_WORKER_USER,
    STORAGE_PATH,
    Consumer,
    Postgres,
    RabbitMQ,
    Redis,
    Relay,
    S3Server,
    SmtpSink,
    Web,
    Worker,
)
from .images import Images

_Mounted = TypeVar("_Mounted", Web, Worker)


#: Where the workers send the sign-up digest (a scheduled job: only a test's Beat sends it).
DIGEST_STAFF = "staff@digest.courier.test"


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
    #: The Docker volume web and workers share as their storage (reports, documents).
    storage_volume: str | None = None
    #: The web's consumer of the worker's results.
    consumer: Consumer | None = None
    #: The S3-compatible server whose bucket web and workers share as their storage.
    s3: S3Server | None = None

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
            **self.storage_env(),
        }

    def storage_env(self) -> dict[str, str]:
        """The shared storage: the S3 bucket when the stack has one, else the images' folder."""
        return self.s3.service_env() if self.s3 is not None else {}

    def worker_env(self) -> dict[str, str]:
        return {
            "RABBITMQ_URL": self.rabbitmq.internal_url_for(RABBITMQ_WORKER_USER),
            "WORKER_DATABASE_URL": self.postgres.internal_url("courier_worker"),
            "SMTP_URL": self.smtp.smtp_url,
            "WORKER_CONCURRENCY": "2",
            # Sign-up digests, sent only when a test runs Beat (test_beat.py).
            "DIGEST_RECIPIENTS": DIGEST_STAFF,
            **self.storage_env(),
        }

    def start_web(self) -> Web:
        web = Web(self.images.web, self.network, self.web_env())
        self.web = self._with_storage(web).start()
        return self.web

    def ensure_consumer(self) -> Consumer:
        """The web's consumer, started on first need (the tests of reports and documents)."""
        return self.consumer or self.start_consumer()

    def start_consumer(self) -> Consumer:
        """The web's consumer; a new container each time (the old one stopped or killed)."""
        self.consumer = Consumer(self.images.web, self.network, self.web_env()).start()
        return self.consumer

    def _with_storage(self, container: _Mounted) -> _Mounted:
        if self.storage_volume is not None:
            container.with_volume_mapping(self.storage_volume, STORAGE_PATH, "rw")
        return container

    def start_relay(self) -> Relay:
        self.relay = Relay(self.images.web, self.network, self.web_env()).start()
        return self.relay

    def add_worker(self) -> Worker:
        alias = f"worker-{len(self.workers) + 1}"
        worker = Worker(self.images.worker, self.network, self.worker_env(), alias=alias)
        self._with_storage(worker)
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
        # Web and workers share only the broker and this bucket (STORAGE_URL=s3://...).
        stack.s3 = cleanup.enter_context(S3Server(images.s3_server, network))
        cleanup.callback(_stop_services, stack)
        stack.start_web()
        stack.start_relay()
        stack.add_worker()
        yield stack


@contextlib.contextmanager
def _storage_volume() -> Iterator[str]:
    """A Docker volume of its own, removed afterwards: the storage web and workers share."""
    client = docker.from_env()
    volume = client.volumes.create(name=f"courier-it-storage-{uuid.uuid4().hex[:8]}")
    try:
        yield str(volume.name)
    finally:
        with contextlib.suppress(Exception):
            volume.remove(force=True)


def _stop_services(stack: Stack) -> None:
    for container in [stack.web, stack.relay, stack.consumer, *stack.workers]:
        if container is not None:
            with contextlib.suppress(Exception):
                container.stop()
