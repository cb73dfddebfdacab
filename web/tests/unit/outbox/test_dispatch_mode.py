"""``OUTBOX_DISPATCH``: which publisher takes a row right after commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from courier_web.outbox.background import ThreadedDispatcher
from courier_web.outbox.dispatch import (
    NullDispatcher,
    dispatch_mode,
    dispatcher_from_settings,
    get_dispatcher,
    use_dispatcher,
)


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
    assert isinstance(dispatcher_from_settings(), NullDispatcher)


def test_thread_builds_a_publisher_that_has_not_started(settings: Any) -> None:
    settings.OUTBOX_DISPATCH = "thread"
    dispatcher = dispatcher_from_settings()
    assert isinstance(dispatcher, ThreadedDispatcher)
    assert dispatcher._thread is None  # no thread, no connection until the first row


def test_the_app_config_holds_the_dispatcher_built_at_start_up() -> None:
    built = apps.get_app_config("outbox").dispatcher  # type: ignore[attr-defined]
    assert isinstance(built, NullDispatcher)  # the test settings say "off"
    assert get_dispatcher() is built


def test_use_dispatcher_swaps_it_for_the_block_only() -> None:
    built, swapped = get_dispatcher(), NullDispatcher()
    with use_dispatcher(swapped):
        assert get_dispatcher() is swapped
    assert get_dispatcher() is built
