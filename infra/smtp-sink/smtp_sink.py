"""SMTP sink for the test suite and the compose stack: keeps what it receives, shows it as JSON.

SMTP (aiosmtpd) on ``SMTP_SINK_SMTP_PORT`` (1025): accepts any sender, any
recipient and any AUTH credentials; TLS is not offered. HTTP on
``SMTP_SINK_HTTP_PORT`` (8025):

- ``GET /messages[?to=address]``: received messages, oldest first, each
  ``{"mail_from", "rcpt_tos", "message_id", "subject", "headers", "raw", "text",
  "received_at", "received_ts"}`` (``received_ts``: epoch seconds, for rates);
- ``DELETE /messages``: forget them;
- ``POST /control`` ``{"refuse_next": N}``: the next N transactions are answered
  ``451 4.3.0 try again later`` at the end of DATA (a transient failure, to
  test retries); ``GET /control`` shows the counters;
- ``GET /healthz``.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import signal
import threading
import time
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

REFUSAL = "451 4.3.0 try again later"
log = logging.getLogger("smtp-sink")


class Mailbox:
    """Received messages and the fault-injection counters, shared by the SMTP and HTTP threads."""

    def __init__(self, max_messages: int) -> None:
        self._lock = threading.Lock()
        self._messages: deque[dict[str, Any]] = deque(maxlen=max_messages)
        self._refuse_next = 0
        self._refused = 0

    def add(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._messages.append(message)

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = list(self._messages)
        if to:
            found = [m for m in found if to.lower() in (r.lower() for r in m["rcpt_tos"])]
        return found

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def refuse_next(self, count: int) -> None:
        with self._lock:
            self._refuse_next = count

    def take_refusal(self) -> bool:
        """Whether to refuse the transaction at hand (and count it)."""
        with self._lock:
            if self._refuse_next <= 0:
                return False
            self._refuse_next -= 1
            self._refused += 1
            return True

    def control_state(self) -> dict[str, int]:
        with self._lock:
            return {
                "refuse_next": self._refuse_next,
                "refused": self._refused,
                "received": len(self._messages),
            }


def to_record(envelope: Envelope, arrived: float | None = None) -> dict[str, Any]:
    raw: bytes = envelope.original_content or b""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    headers: dict[str, str] = {}
    for name, value in message.items():
        headers.setdefault(name, str(value))
    body = message.get_body(preferencelist=("plain",))
    return {
        "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos),
        "message_id": (message.get("Message-ID") or "").strip() or None,
        "subject": message.get("Subject"),
        "headers": headers,
        "raw": raw.decode("utf-8", errors="replace"),
        "text": body.get_content() if body is not None else None,
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # Epoch seconds with sub-second precision, taken as DATA ended: rates are measured
        # from it.
        "received_ts": arrived if arrived is not None else time.time(),
    }


class SinkHandler:
    """aiosmtpd handler: refuse when asked to, else keep the message."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        arrived = time.time()
        if self.mailbox.take_refusal():
            log.info("refused message from %s to %s", envelope.mail_from, envelope.rcpt_tos)
            return REFUSAL
        record = to_record(envelope, arrived)
        self.mailbox.add(record)
        log.info(
            "received %s to %s: %s", record["message_id"], record["rcpt_tos"], record["subject"]
        )
        return "250 2.0.0 OK: message accepted"


def accept_any_login(*_args: Any) -> AuthResult:
    return AuthResult(success=True)


def make_http_handler(mailbox: Mailbox) -> type[BaseHTTPRequestHandler]:
    class Api(BaseHTTPRequestHandler):
        server_version = "courier-smtp-sink"

        def _send(self, status: HTTPStatus, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/healthz":
                self._send(HTTPStatus.OK, {"status": "ok"})
            elif url.path == "/messages":
                to = parse_qs(url.query).get("to", [None])[-1]
                self._send(HTTPStatus.OK, mailbox.messages(to))
            elif url.path == "/control":
                self._send(HTTPStatus.OK, mailbox.control_state())
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such resource: {url.path}"})

        def do_DELETE(self) -> None:
            if urlsplit(self.path).path != "/messages":
                self._send(HTTPStatus.NOT_FOUND, {"error": "only /messages can be deleted"})
                return
            mailbox.clear()
            self._send(HTTPStatus.OK, {"deleted": True})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/control":
                self._send(HTTPStatus.NOT_FOUND, {"error": "POST goes to /control"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                count = body["refuse_next"]
                if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                self._send(
                    HTTPStatus.BAD_REQUEST,
                    {"error": 'expected {"refuse_next": <non-negative integer>}'},
                )
                return
            mailbox.refuse_next(count)
            self._send(HTTPStatus.OK, mailbox.control_state())

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return Api


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("SMTP_SINK_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    smtp_log = logging.getLogger("mail.log")
    smtp_log.setLevel(logging.WARNING)
    # aiosmtpd warns about its own use of a deprecated attribute on every AUTH.
    smtp_log.addFilter(lambda record: "login_data is deprecated" not in record.getMessage())
    host = os.environ.get("SMTP_SINK_HOST", "0.0.0.0")  # noqa: S104 - a container's service
    smtp_port = int(os.environ.get("SMTP_SINK_SMTP_PORT", "1025"))
    http_port = int(os.environ.get("SMTP_SINK_HTTP_PORT", "8025"))
    mailbox = Mailbox(int(os.environ.get("SMTP_SINK_MAX_MESSAGES", "10000")))

    smtp = Controller(
        SinkHandler(mailbox),
        hostname=host,
        port=smtp_port,
        server_hostname="smtp-sink",
        enable_SMTPUTF8=True,
        authenticator=accept_any_login,
        auth_require_tls=False,
    )
    smtp.start()
    http = ThreadingHTTPServer((host, http_port), make_http_handler(mailbox))
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, name="http", daemon=True).start()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("smtp-sink ready: SMTP on %s:%d, HTTP on %s:%d", host, smtp_port, host, http_port)
    stop.wait()
    http.shutdown()
    smtp.stop()
    log.info("smtp-sink stopped")


if __name__ == "__main__":
    main()
