"""One class per service of the stack, each a testcontainers ``DockerContainer``.

Ports are published on 127.0.0.1 only (random host ports, looked up again
after every restart, since Docker may hand out new ones); containers talk to
each other by alias over the suite's own Docker network.
"""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path
from typing import Any, Self

import docker
import docker.errors
import pika
import psycopg
import redis
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from .polling import wait_until

#: The broker runs with Courier's own definitions (infra/rabbitmq/): vhost
#: `courier`, one user per service and an administrator, with their documented
#: dev-only passwords. The suite itself inspects and publishes as the administrator.
RABBITMQ_DEFINITIONS = Path(__file__).resolve().parents[2] / "infra" / "rabbitmq"
RABBITMQ_VHOST = "courier"
RABBITMQ_USER = "courier-admin"
RABBITMQ_PASSWORD = "courier-admin-dev"
RABBITMQ_WEB_USER = ("courier-web", "courier-web-dev")
RABBITMQ_WORKER_USER = ("courier-worker", "courier-worker-dev")
POSTGRES_USER = "courier"
POSTGRES_PASSWORD = "courier-integration"


class ServiceContainer(DockerContainer):
    """A container on the suite's network whose ports are published on loopback only."""

    alias: str = ""

    def __init__(self, image: str, network: Network, *, alias: str | None = None) -> None:
        super().__init__(image)
        self.alias = alias or self.alias
        self.with_network(network).with_network_aliases(self.alias)

    def publish(self, *ports: int) -> Self:
        for port in ports:
            # A (host ip, None) pair makes Docker pick a free port on 127.0.0.1 only.
            self.ports[f"{port}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]
        return self

    def host_port(self, port: int) -> int:
        container = self.get_wrapped_container()
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"]
        return int(bindings[0]["HostPort"])

    def logs(self) -> str:
        out, err = self.get_logs()
        return out.decode(errors="replace") + err.decode(errors="replace")

    def docker_stop(self, timeout: int = 20) -> None:
        self.get_wrapped_container().stop(timeout=timeout)

    def docker_start(self) -> None:
        self.get_wrapped_container().start()
        self.wait_ready()

    def docker_restart(self) -> None:
        self.get_wrapped_container().restart(timeout=20)
        self.wait_ready()

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        self.get_wrapped_container().kill(signal=sig.name)

    def pause(self) -> None:
        """``docker pause``: every process frozen, connections open but silent."""
        self.get_wrapped_container().pause()

    def unpause(self) -> None:
        self.get_wrapped_container().unpause()
        self.wait_ready()

    def run(self, *command: str) -> tuple[int, str]:
        code, output = self.get_wrapped_container().exec_run(list(command))
        return code, output.decode(errors="replace")

    def start(self) -> Self:
        super().start()
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Block until the service answers; each subclass knows how to ask."""


class RabbitMQ(ServiceContainer):
    alias = "rabbitmq"

    def __init__(self, image: str, network: Network) -> None:
        super().__init__(image, network)
        # The official images and both offline ones read /etc/rabbitmq/conf.d/*.conf;
        # a node booting with definitions creates no default user, so the users of
        # definitions.json are the only ones.
        self.with_copy_into_container(
            RABBITMQ_DEFINITIONS / "courier.conf", "/etc/rabbitmq/conf.d/30-courier.conf"
        )
        self.with_copy_into_container(
            RABBITMQ_DEFINITIONS / "definitions.json", "/etc/rabbitmq/courier-definitions.json"
        )
        self.version = image_version(image, "RABBITMQ_VERSION")
        if self.version >= (4,):
            # What RabbitMQ 4.3 refuses, refused on 4.0 too (a 3.x node would not boot with it).
            self.with_copy_into_container(
                RABBITMQ_DEFINITIONS / "courier-4.conf", "/etc/rabbitmq/conf.d/31-courier-4.conf"
            )
        self.publish(5672)

    def internal_url_for(self, credentials: tuple[str, str]) -> str:
        """The URL a service container uses, with one of the definitions' users."""
        user, password = credentials
        return f"amqp://{user}:{password}@{self.alias}:5672/{RABBITMQ_VHOST}"

    def url_for(self, credentials: tuple[str, str]) -> str:
        """The URL from the host (published port), with one of the definitions' users."""
        user, password = credentials
        return f"amqp://{user}:{password}@127.0.0.1:{self.host_port(5672)}/{RABBITMQ_VHOST}"

    @property
    def internal_url(self) -> str:
        return self.internal_url_for((RABBITMQ_USER, RABBITMQ_PASSWORD))

    @property
    def url(self) -> str:
        return self.url_for((RABBITMQ_USER, RABBITMQ_PASSWORD))

    def connection(self, credentials: tuple[str, str] | None = None) -> pika.BlockingConnection:
        """An AMQP connection from the host: the administrator's unless ``credentials``."""
        params = pika.URLParameters(self.url_for(credentials or (RABBITMQ_USER, RABBITMQ_PASSWORD)))
        params.socket_timeout = 5
        params.blocked_connection_timeout = 30
        return pika.BlockingConnection(params)

    def wait_ready(self) -> None:
        def answers() -> bool:
            self.connection().close()
            return True

        wait_until(answers, timeout=120, what="RabbitMQ to accept AMQP connections", interval=1)

    def rabbitmqctl(self, *args: str) -> str:
        code, output = self.run("rabbitmqctl", *args)
        assert code == 0, f"rabbitmqctl {' '.join(args)} failed: {output}"
        return output


def image_version(image: str, variable: str) -> tuple[int, ...]:
    """The version an image declares in ``variable`` (as the official images do); () if none.

    The image is pulled first when it is not on the machine yet.
    """
    client = docker.from_env()
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        found = client.images.pull(image)
    for entry in found.attrs["Config"].get("Env") or []:
        name, _, value = entry.partition("=")
        if name == variable:
            return tuple(int(part) for part in value.split(".") if part.isdigit())
    return ()


class Redis(ServiceContainer):
    """The web's shared cache and rate-limit store (``REDIS_URL``)."""

    alias = "redis"

    def __init__(self, image: str, network: Network) -> None:
        super().__init__(image, network)
        self.publish(6379)

    @property
    def internal_url(self) -> str:
        return f"redis://{self.alias}:6379/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.host_port(6379), socket_timeout=5)

    def wait_ready(self) -> None:
        wait_until(lambda: self.client().ping(), timeout=60, what="Redis to answer PING")


class Postgres(ServiceContainer):
    alias = "postgres"
    databases = ("courier_web", "courier_worker")

    def __init__(self, image: str, network: Network) -> None:
        super().__init__(image, network)
        self.with_env("POSTGRES_USER", POSTGRES_USER)
        self.with_env("POSTGRES_PASSWORD", POSTGRES_PASSWORD)
        self.with_env("POSTGRES_DB", self.databases[0])
        self.publish(5432)

    def internal_url(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@{self.alias}:5432/{database}"

    def url(self, database: str) -> str:
        port = self.host_port(5432)
        return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{port}/{database}"

    def wait_ready(self) -> None:
        def answers() -> bool:
            with psycopg.connect(self.url(self.databases[0]), connect_timeout=3):
                return True

        wait_until(answers, timeout=120, what="PostgreSQL to accept connections", interval=1)

    def create_databases(self) -> None:
        with psycopg.connect(self.url(self.databases[0]), autocommit=True) as conn:
            for name in self.databases[1:]:
                conn.execute(f'CREATE DATABASE "{name}"')


class PgBouncer(ServiceContainer):
    """PgBouncer in transaction pooling mode in front of the stack's PostgreSQL, as users run it.

    Configured by its ``pgbouncer.ini`` (copied in): every database of the
    server, the suite's user, and ``ignore_startup_parameters = options``,
    without which the services' startup options (statement timeout,
    synchronous commit) are refused (docs/outbox.md, "Through PgBouncer").
    """

    alias = "pgbouncer"

    def __init__(self, image: str, network: Network, *, server: Postgres) -> None:
        super().__init__(image, network)
        ini = (
            "[databases]\n"
            f"* = host={server.alias} port=5432\n"
            "[pgbouncer]\n"
            "listen_addr = 0.0.0.0\n"
            "listen_port = 6432\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            "auth_file = /etc/pgbouncer/userlist.txt\n"
            "pool_mode = transaction\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            "max_client_conn = 500\n"
            "default_pool_size = 10\n"
        )
        users = f'"{POSTGRES_USER}" "{POSTGRES_PASSWORD}"\n'
        self.with_copy_into_container(ini.encode(), "/etc/pgbouncer/pgbouncer.ini")
        self.with_copy_into_container(users.encode(), "/etc/pgbouncer/userlist.txt")
        self.with_command("pgbouncer /etc/pgbouncer/pgbouncer.ini")
        self.publish(6432)

    def internal_url(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@{self.alias}:6432/{database}"

    def url(self, database: str) -> str:
        port = self.host_port(6432)
        return f"postgresql://{POSTGRES_USER}:{POSTGRES_PASSWORD}@127.0.0.1:{port}/{database}"

    def wait_ready(self) -> None:
        def answers() -> bool:
            with psycopg.connect(self.url(Postgres.databases[0]), connect_timeout=3) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)

        wait_until(answers, timeout=60, what="PgBouncer to pass connections on", interval=0.5)


class SmtpSink(ServiceContainer):
    """An SMTP server that keeps what it receives and shows it over a JSON API."""

    alias = "smtp-sink"

    def __init__(self, image: str, network: Network) -> None:
        super().__init__(image, network)
        self.publish(8025)

    @property
    def smtp_url(self) -> str:
        return f"smtp://{self.alias}:1025"

    def _api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.host_port(8025)}{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            payload = response.read()
        return json.loads(payload) if payload else None

    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._api("GET", "/messages")
        return messages

    def messages_to(self, domain: str) -> list[dict[str, Any]]:
        return [m for m in self.messages() if any(r.endswith("@" + domain) for r in m["rcpt_tos"])]

    def refuse_next(self, count: int) -> None:
        self._api("POST", "/control", {"refuse_next": count})

    def wait_ready(self) -> None:
        wait_until(lambda: self._api("GET", "/healthz") is not None, timeout=60, what="SMTP sink")


class Web(ServiceContainer):
    """The web service from its deployable image, served by its production server."""

    alias = "web"

    def __init__(
        self, image: str, network: Network, env: dict[str, str], *, alias: str | None = None
    ) -> None:
        super().__init__(image, network, alias=alias)
        for key, value in env.items():
            self.with_env(key, value)
        self.publish(8000)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port(8000)}"

    def create_staff(self, email: str, password: str) -> None:
        """A staff account, made as an operator does: ``courier-web createsuperuser --noinput``."""
        code, output = self.get_wrapped_container().exec_run(
            ["courier-web", "createsuperuser", "--noinput"],
            environment={"DJANGO_SUPERUSER_EMAIL": email, "DJANGO_SUPERUSER_PASSWORD": password},
        )
        assert code == 0, f"createsuperuser failed: {output.decode(errors='replace')}"

    def wait_ready(self) -> None:
        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=3) as response:  # noqa: S310
                return bool(response.status == 200)

        wait_until(healthy, timeout=120, what="the web container's /healthz", interval=0.5)


RELAY_METRICS_PORT = 9809


class Relay(ServiceContainer):
    """The outbox relay: the web image with its other command."""

    alias = "relay"

    def __init__(self, image: str, network: Network, env: dict[str, str]) -> None:
        super().__init__(image, network)
        for key, value in env.items():
            self.with_env(key, value)
        self.with_env("WEB_MIGRATE_ON_START", "false")
        # On PostgreSQL the relay does the publishing (OUTBOX_DISPATCH=auto -> notify),
        # so the published/returned counters are its own: serve them.
        self.with_env("OUTBOX_RELAY_METRICS_PORT", str(RELAY_METRICS_PORT))
        self.publish(RELAY_METRICS_PORT)
        self.with_command("start-relay")

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port(RELAY_METRICS_PORT)}/metrics"

    def wait_ready(self) -> None:
        def running() -> bool:
            container = self.get_wrapped_container()
            container.reload()
            return bool(container.status == "running")

        wait_until(running, timeout=60, what="the relay container to run")


class Consumer(ServiceContainer):
    """The web's event consumer (results of the worker's work): the web image, start-consumer."""

    alias = "consumer"

    def __init__(self, image: str, network: Network, env: dict[str, str]) -> None:
        super().__init__(image, network)
        for key, value in env.items():
            self.with_env(key, value)
        self.with_env("WEB_MIGRATE_ON_START", "false")
        # Least privilege: its queue comes from the broker definitions; it only reads it.
        self.with_env("CONSUMER_DECLARE", "passive")
        self.with_name(f"courier-it-consumer-{id(self):x}")
        self.with_command("start-consumer")

    def wait_ready(self) -> None:
        wait_until(
            lambda: '"consumer.started"' in self.logs(),
            timeout=120,
            what="the web's consumer to start consuming",
            interval=0.5,
        )


#: Where web and worker containers mount the storage they share (the images' STORAGE_URL).
STORAGE_PATH = "/srv/storage"


class S3Server(ServiceContainer):
    """An S3-compatible server (moto's) holding the bucket web and workers share."""

    alias = "s3"
    bucket = "courier-it"
    #: Any credentials do: the server checks none. The services get them as boto3 does.
    credentials = {
        "AWS_ACCESS_KEY_ID": "courier-it",
        "AWS_SECRET_ACCESS_KEY": "courier-it-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def __init__(self, image: str, network: Network) -> None:
        super().__init__(image, network)
        self.publish(9000)

    def service_env(self, prefix: str = "shared") -> dict[str, str]:
        """What web and worker need to store in the bucket (``STORAGE_URL`` and boto3's own)."""
        return {
            "STORAGE_URL": f"s3://{self.bucket}/{prefix}",
            "AWS_ENDPOINT_URL": f"http://{self.alias}:9000",
            **self.credentials,
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.host_port(9000)}",
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
            region_name=self.credentials["AWS_DEFAULT_REGION"],
        )

    def wait_ready(self) -> None:
        wait_until(lambda: self.client().list_buckets() is not None, timeout=60, what="S3 server")
        self.client().create_bucket(Bucket=self.bucket)


class Worker(ServiceContainer):
    """One worker service container; several may run side by side on the same queues."""

    def __init__(self, image: str, network: Network, env: dict[str, str], *, alias: str) -> None:
        super().__init__(image, network, alias=alias)
        for key, value in env.items():
            self.with_env(key, value)
        self.with_name(f"courier-it-{alias}-{id(self):x}")
        self.publish(9808)  # Prometheus metrics (WORKER_METRICS_PORT), on loopback

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port(9808)}/metrics"

    def wait_ready(self) -> None:
        wait_until(
            lambda: " ready." in self.logs(),
            timeout=120,
            what=f"worker {self.alias} to report ready",
            interval=0.5,
        )

    def handled_event_ids(self) -> set[str]:
        """Event ids this container's worker logged as handled (its JSON log lines)."""
        handled = set()
        for line in self.logs().splitlines():
            if '"event.handled"' not in line:
                continue
            try:
                record = json.loads(line[line.index("{") :])
            except ValueError:
                continue
            if record.get("event") == "event.handled":
                handled.add(str(record.get("event_id")))
        return handled
