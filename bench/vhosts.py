"""The run's private vhosts on the local broker: created at once, deleted on the way out.

Each consumer that a section keeps alive gets a vhost of its own (see
``sections``), so a run creates several; ``rabbitmqctl`` creates them, since
AMQP cannot.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from bench.cleanup import Cleanup
from bench.paths import LOCALHOST


def broker_base_url() -> str:
    """``RABBITMQ_URL`` (default: guest on 127.0.0.1); anything but a local broker is refused."""
    url = os.environ.get("RABBITMQ_URL", f"amqp://guest:guest@{LOCALHOST}:5672/%2F")
    parts = urlsplit(url)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        raise SystemExit(f"bench: only a local broker (127.0.0.1) is benchmarked, not {url!r}")
    return url


def vhost_url(base: str, vhost: str) -> str:
    parts = urlsplit(base)
    netloc = parts.netloc.replace("localhost", LOCALHOST)
    return f"{parts.scheme}://{netloc}/{quote(vhost, safe='')}"


def new_vhost_name() -> str:
    return f"courier-bench-{uuid.uuid4().hex[:8]}"


def create_vhost(cleanup: Cleanup, base_url: str) -> tuple[str, str]:
    """A fresh vhost for this run (deleted at the end); returns (name, url)."""
    name = new_vhost_name()
    create_vhosts(cleanup, base_url, [name])
    return name, vhost_url(base_url, name)


def create_vhosts(cleanup: Cleanup, base_url: str, names: Sequence[str]) -> None:
    """Fresh vhosts ``names`` (``new_vhost_name``), created at once, deleted at the end."""
    user = urlsplit(base_url).username or "guest"
    # Pushed before they exist: deleting a vhost that was never created only
    # fails (and is reported) on the way out; the others are deleted anyway.
    cleanup.push(
        f"vhost{'s' if len(names) > 1 else ''} {', '.join(names)}",
        lambda: _rabbitmqctl_all([("delete_vhost", name) for name in names]),
    )
    _rabbitmqctl_all([("add_vhost", name) for name in names])
    _rabbitmqctl_all([("set_permissions", "-p", name, user, ".*", ".*", ".*") for name in names])


def _rabbitmqctl_all(calls: Sequence[Sequence[str]]) -> None:
    """Several ``rabbitmqctl`` calls at once (each one is a short-lived Erlang node)."""
    running = [
        subprocess.Popen(
            ["rabbitmqctl", "-q", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for args in calls
    ]
    failed = []
    for args, proc in zip(calls, running, strict=True):
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            failed.append(f"rabbitmqctl {' '.join(args)}: {out.decode(errors='replace')}")
    if failed:
        raise RuntimeError("\n".join(failed))


__all__ = ["broker_base_url", "create_vhost", "create_vhosts", "new_vhost_name", "vhost_url"]
