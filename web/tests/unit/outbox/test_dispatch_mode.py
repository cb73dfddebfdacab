"""``OUTBOX_DISPATCH``: which publisher takes a row right after commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from courier_web.outbox.dispatch import NullDispatcher, _from_settings, dispatch_mode


def test_auto_is_the_in_process_thread_where_there_is_no_listen_notify(settings: Any) -> None:
    assert connection.vendor == "sqlite"  # the unit tests' database
    settings.OUTBOX_DISPATCH = "auto"
    assert dispatch_mode() == "thread"


@pytest.mark.parametrize("mode", ["off", "thread", " Thread "])
def test_explicit_modes_are_kept(settings: Any, mode: str) -> None:
    settings.OUTBOX_DISPATCH = mode
    assert dispatch_mode() == mode.strip().lower()


def test_notify_needs_postgresql(settings: Any) -> None:
    settings.OUTBOX_DISPATCH = "notify"
    with pytest.raises(ImproperlyConfigured, match="needs PostgreSQL"):
        dispatch_mode()


def test_an_unknown_mode_names_the_choices(settings: Any) -> None:
    settings.OUTBOX_DISPATCH = "threads"
    with pytest.raises(ImproperlyConfigured, match="auto, notify, thread, off"):
        dispatch_mode()


def test_off_publishes_nothing_in_process(settings: Any) -> None:
    settings.OUTBOX_DISPATCH = "off"
    assert isinstance(_from_settings(), NullDispatcher)
