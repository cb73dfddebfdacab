"""Celery Beat and Flower, from the worker image, as compose and infra/k8s run them."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from testcontainers.core.network import Network

from .containers import ServiceContainer
from .logs import json_records
from .polling import wait_until

#: Flower's broker user (infra/rabbitmq/definitions.json): Celery's control and events only.
RABBITMQ_FLOWER_USER = ("courier-flower", "courier-flower-dev")
FLOWER_PORT = 5555


class Beat(ServiceContainer):
    """The worker's scheduler (``start-beat``); several may run at once, as by mistake."""

    def __init__(self, image: str, network: Network, env: dict[str, str], *, alias: str) -> None:
        super().__init__(image, network, alias=alias)
        for key, value in env.items():
            self.with_env(key, value)
        self.with_name(f"courier-it-{alias}-{id(self):x}")
        self.with_command("start-beat")

    def sent(self, job: str) -> list[dict[str, Any]]:
        """The ``schedule.sent`` records of ``job`` in its log, oldest first."""
        return [
            record
            for _, record in json_records(self.logs())
            if record.get("event") == "schedule.sent" and record.get("job") == job
        ]

    def wait_ready(self) -> None:
        wait_until(
            lambda: "beat: Starting..." in self.logs(),
            timeout=90,
            what=f"{self.alias} to start",
            interval=0.5,
        )


class Flower(ServiceContainer):
    """Flower on its own broker user, behind basic auth."""

    alias = "flower"

    def __init__(self, image: str, network: Network, *, broker_url: str, login: str) -> None:
        super().__init__(image, network)
        self.login = login
        self.with_env("RABBITMQ_URL", broker_url)
        self.with_env("FLOWER_BASIC_AUTH", login)
        self.with_command(
            f"celery -A courier_worker.celery_app:app flower --port={FLOWER_PORT} --address=0.0.0.0"
        )
        self.publish(FLOWER_PORT)

    def get(self, path: str, *, login: str | None = None) -> tuple[int, Any]:
        """GET ``path`` with ``login`` ("user:password"; default: Flower's own, "" for none)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.host_port(FLOWER_PORT)}{path}")
        credentials = self.login if login is None else login
        if credentials:
            token = base64.b64encode(credentials.encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        text = body.decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def wait_ready(self) -> None:
        wait_until(
            lambda: self.get("/healthcheck", login="") == (200, "OK"),
            timeout=90,
            what="Flower's /healthcheck",
            interval=0.5,
        )
