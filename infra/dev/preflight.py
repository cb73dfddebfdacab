"""Say clearly, before anything starts, when the broker `make run` needs is missing.

Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

DEFAULT_URL = "amqp://guest:guest@localhost:5672/%2F"


def main() -> int:
    url = os.environ.get("RABBITMQ_URL", DEFAULT_URL)
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or 5672
    try:
        with socket.create_connection((host, port), timeout=3):
            return 0
    except OSError as exc:
        safe_url = url.replace(f":{parts.password}@", ":***@") if parts.password else url
        print(
            f"\nCourier needs RabbitMQ, and nothing answers at {host}:{port} "
            f"(RABBITMQ_URL={safe_url}): {exc}.\n"
            "Start one, then try again:\n"
            "  - on Debian/Ubuntu:  sudo apt-get install rabbitmq-server && "
            "sudo rabbitmq-server -detached\n"
            "  - with Docker:       docker run -d -p 127.0.0.1:5672:5672 rabbitmq:3.13\n"
            "  - the whole stack:   make up\n"
            "or point RABBITMQ_URL at the broker you have.\n",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
