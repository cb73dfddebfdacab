"""Reading the connected receivers of the model signals, and what each one does.

Everything comes from the running process: each signal's ``receivers`` list
(Django keeps ``(lookup key, receiver or weak reference, is_async)`` per
connection, in the order they run), the outbox's emission declarations
(which event a receiver writes) and the ``after_commit`` mark (whether its
work waits for the commit). Nothing here is written by hand.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from django.apps import apps
from django.db.models import signals as model_signals
from django.dispatch import Signal

from courier_web.outbox import Emission, post_bulk_create, post_bulk_update
from courier_web.receivers import IN_TRANSACTION, ON_COMMIT, timing_of

__all__ = ["ReceiverRow", "catalog", "watched_signals"]

#: Where a receiver is ours: the web service's own code.
PROJECT_PACKAGE = "courier_web"


@dataclass(frozen=True)
class ReceiverRow:
    """One connected receiver: what fires it, what it is, when its work happens, what it emits."""

    signal: str
    sender: str
    receiver: str
    runs: str
    emits: str | None
    dispatch_uid: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def watched_signals() -> dict[str, Signal]:
    """Django's model signals in lifecycle order, then the outbox's bulk-write signals."""
    names = [
        "class_prepared",
        "pre_init",
        "post_init",
        "pre_save",
        "post_save",
        "pre_delete",
        "post_delete",
        "m2m_changed",
        "pre_migrate",
        "post_migrate",
    ]
    found = {name: getattr(model_signals, name) for name in names}
    return {**found, "post_bulk_create": post_bulk_create, "post_bulk_update": post_bulk_update}


def catalog(*, everything: bool = False) -> list[ReceiverRow]:
    """The connected receivers, by signal, then sender, each group in the order it runs.

    Only the web service's own unless ``everything`` (Django's and other apps' too).
    """
    senders = _sender_labels()
    rows: list[ReceiverRow] = []
    for signal_name, signal in watched_signals().items():
        found = []
        for lookup_key, reference, *_ in list(signal.receivers):
            receiver = reference() if isinstance(reference, weakref.ReferenceType) else reference
            if receiver is None:  # garbage-collected, not yet swept by the signal
                continue
            row = _row(signal_name, senders.get(lookup_key[1], "?"), receiver, lookup_key[0])
            if everything or row.receiver.startswith(f"{PROJECT_PACKAGE}."):
                found.append(row)
        rows += sorted(found, key=lambda row: row.sender)  # stable: keeps the running order
    return rows


def _row(signal: str, sender: str, receiver: Callable[..., Any], uid: Any) -> ReceiverRow:
    dispatch_uid = uid if isinstance(uid, str) else None
    emission = getattr(receiver, "__self__", None)
    if isinstance(emission, Emission):
        return ReceiverRow(
            signal=signal,
            sender=sender,
            receiver=f"{emission.declared_in}: emits({emission.event.__name__})",
            runs=IN_TRANSACTION if emission.in_transaction else ON_COMMIT,
            emits=emission.event_type,
            dispatch_uid=dispatch_uid,
        )
    return ReceiverRow(
        signal=signal,
        sender=sender,
        receiver=_dotted_path(receiver),
        runs=timing_of(receiver),
        emits=None,
        dispatch_uid=dispatch_uid,
    )


def _dotted_path(receiver: Callable[..., Any]) -> str:
    owner = getattr(receiver, "__self__", None)
    function = getattr(receiver, "__func__", receiver)
    if owner is not None and not isinstance(owner, type):
        return f"{type(owner).__module__}.{type(owner).__qualname__}.{function.__name__}"
    module = getattr(function, "__module__", "?")
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


def _sender_labels() -> dict[Any, str]:
    # Django keys a connection by id(sender); None (any sender) has its own id.
    labels: dict[Any, str] = {id(None): "(any)"}
    for config in apps.get_app_configs():
        labels[id(config)] = f"app {config.label}"
    for model in apps.get_models(include_auto_created=True):
        labels[id(model)] = model._meta.label
    return labels
