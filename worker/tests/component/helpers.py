"""Small clients for the component tests: the worker process, the broker, an SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pika
from aiosmtpd.controller import Controller
from courier_worker.queues import QUEUES
from shared_contracts import WireMessage
from shared_contracts.topology import DEAD_LETTER_REASON_HEADER

T = TypeVar("T")
WORKER_DIR = Path(__file__).resolve().parents[2]


def broker_url(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


def wait_for(probe: Callable[[], T | None], *, timeout: float = 20.0, what: str = "it") -> T:
    """Poll ``probe`` until it returns something truthy, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Broker:
    """A pika connection publishing exactly as the web service does (confirms, mandatory)."""

    def __init__(self, url: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.dead_letters: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}

    def publish(
        self,
        wire: WireMessage,
        *,
        body: bytes | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        if body is not None:
            wire = replace(wire, body=body)
        if headers is not None:
            wire = replace(wire, headers=headers)
        self.channel.basic_publish(
            wire.exchange,
            wire.routing_key,
            wire.body,
            pika.BasicProperties(**wire.amqp_properties()),
            mandatory=True,
        )

    def consumers(self, queue: str) -> int:
        return int(self.channel.queue_declare(queue, passive=True).method.consumer_count)

    def dead_letter(self, queue: str, message_id: str) -> tuple[dict[str, Any], bytes] | None:
        """The dead letter whose ``id`` header is ``message_id``, once it reached ``queue``.

        Drains the queue (every dead letter in the test vhost is a test's own) and
        keeps what it took, so letters of other tests are not lost to them.
        """
        while True:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            headers = dict(properties.headers or {})
            self.dead_letters[(queue, str(headers.get("id")))] = (headers, body)
        return self.dead_letters.get((queue, message_id))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()


class Worker:
    """``celery -A courier_worker.celery_app:app worker`` (prefork) as a subprocess."""

    def __init__(self, home: Path, env: Mapping[str, str], *, concurrency: int = 2) -> None:
        self.home = home
        self.mail_dir = home / "var" / "mail"
        self.log_path = home / "worker.log"
        self.env = {
            **os.environ,
            "COURIER_WORKER_HOME": str(home),
            "WORKER_HEARTBEAT_INTERVAL": "1",
            "WORKER_METRICS_PORT": "0",  # unless a test asks for the endpoint
            **env,
        }
        if "SMTP_URL" not in env:
            self.env.pop("SMTP_URL", None)
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        subprocess.run(
            [sys.executable, "-m", "courier_worker.cli", "init-db"],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "courier_worker.celery_app:app",
            "worker",
            f"--concurrency={self.concurrency}",
            f"--hostname={self.hostname}",
            "--without-mingle",
            "--without-gossip",
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=self.env, cwd=WORKER_DIR, stdout=log, stderr=subprocess.STDOUT
        )
        broker = Broker(self.env["RABBITMQ_URL"])
        try:
            wait_for(self._consuming(broker), timeout=45, what="the worker to consume its queues")
        except AssertionError:
            self.stop()
            raise AssertionError(f"worker did not start; log:\n{self.log()[-4000:]}") from None
        finally:
            broker.close()
        return self

    def _consuming(self, broker: Broker) -> Callable[[], bool]:
        def probe() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited; log:\n{self.log()[-4000:]}")
            try:
                return all(broker.consumers(spec.name) > 0 for spec in QUEUES)
            except pika.exceptions.ChannelClosedByBroker:  # queue not declared yet
                broker.channel = broker.connection.channel()
                return False

        return probe

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    lines.append(record)
        return lines

    @property
    def hostname(self) -> str:
        return f"test-{os.getpid()}-{self.home.name}@{socket.gethostname()}"

    def events(self, event: str, event_id: object) -> list[dict[str, Any]]:
        """This worker's log lines ``event`` about ``event_id``."""
        return [
            line
            for line in self.log_lines()
            if line.get("event") == event and line.get("event_id") == str(event_id)
        ]

    def emails(self) -> list[Path]:
        return sorted(self.mail_dir.glob("*.eml")) if self.mail_dir.exists() else []


class _Collect:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


class _Faulty(_Collect):
    """Misbehaves by recipient, so that one sink serves every fault test.

    The local part of the address says what to do:

    * ``refuse<N>-...``: answer ``451`` (try again later) to the first N attempts;
    * ``always451-...``: answer ``451`` to every attempt;
    * ``reject-...``: answer ``550`` (no such user: permanent);
    * ``slow<S>-...``: on the first attempt only, wait S seconds before answering RCPT.
    """

    def __init__(self) -> None:
        super().__init__()
        self.attempts: dict[str, int] = {}

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        local = address.split("@", 1)[0]
        attempt = self.attempts[address] = self.attempts.get(address, 0) + 1
        if (refuse := re.match(r"refuse(\d+)-", local)) and attempt <= int(refuse[1]):
            return "451 4.3.0 try again later (test)"
        if local.startswith("always451-"):
            return "451 4.3.0 try again later (test)"
        if local.startswith("reject-"):
            return "550 5.1.1 no such user (test)"
        if (slow := re.match(r"slow(\d+)-", local)) and attempt == 1:
            await asyncio.sleep(int(slow[1]))
        envelope.rcpt_tos.append(address)
        return "250 OK"


class SmtpSink:
    """An in-process SMTP server (aiosmtpd) that keeps every message it receives.

    With ``faulty=True`` it refuses, rejects or stalls by recipient (``_Faulty``).
    """

    def __init__(self, *, faulty: bool = False) -> None:
        self.port = free_port()
        self._handler = _Faulty() if faulty else _Collect()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self._handler.messages

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def to(self, message_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Message-ID"] == message_id]

    def attempts(self, address: str) -> int:
        """RCPT commands seen for ``address`` (only a faulty sink counts them)."""
        return getattr(self._handler, "attempts", {}).get(address, 0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> str:
    """The Prometheus text served on 127.0.0.1:``port``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in Prometheus text (0 when absent), labels in any order."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series.split("{", 1)[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if found == labels:
            return float(value)
    return 0.0


__all__ = ["DEAD_LETTER_REASON_HEADER", "Broker", "SmtpSink", "Worker", "wait_for"]
