"""Readiness checks: each raises when its dependency does not answer.

Tests swap a check with ``override_check`` (a fake, no patching).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from courier_web.outbox.broker import BrokerOptions, probe_broker

Check = Callable[[], None]


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    options = BrokerOptions.from_settings(connection_name="courier-web readyz")
    probe_broker(options, timeout=settings.READYZ_BROKER_TIMEOUT)


_checks: dict[str, Check] = {"database": check_database, "broker": check_broker}


def registered_checks() -> Mapping[str, Check]:
    return dict(_checks)


@contextmanager
def override_check(name: str, check: Check) -> Iterator[None]:
    """Use ``check`` in place of the named one inside the block."""
    previous = _checks[name]
    _checks[name] = check
    try:
        yield
    finally:
        _checks[name] = previous
