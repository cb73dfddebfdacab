"""Receivers whose work waits for the commit: ``@after_commit(when=...)``.

A model signal fires inside the saving transaction. A receiver whose effect
must not be seen before the change is (invalidating a cache, say) wraps its
function: the wrapper decides with ``when`` in the transaction, from the
signal's arguments, and hands the call to ``transaction.on_commit`` of the
database the signal names, so a rollback runs nothing. ``courier-web
signals`` reads the mark it leaves and lists the receiver as "on commit"::

    @receiver(post_save, sender=User, dispatch_uid="stats.user_created")
    @after_commit(when=lambda created, **_: created)
    def invalidate_stats(sender, **kwargs): ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

from django.db import transaction

__all__ = ["IN_TRANSACTION", "ON_COMMIT", "Timing", "after_commit", "timing_of"]

Timing = Literal["in transaction", "on commit"]
IN_TRANSACTION: Timing = "in transaction"
ON_COMMIT: Timing = "on commit"

_TIMING_ATTR = "courier_timing"

Receiver = Callable[..., None]


def after_commit(*, when: Callable[..., bool] | None = None) -> Callable[[Receiver], Receiver]:
    """Run the decorated receiver after the commit of the transaction the signal fired in."""

    def decorate(function: Receiver) -> Receiver:
        @functools.wraps(function)
        def receiver(sender: Any, **kwargs: Any) -> None:
            if when is not None and not when(**kwargs):
                return
            transaction.on_commit(
                lambda: function(sender, **kwargs), using=kwargs.get("using"), robust=True
            )

        setattr(receiver, _TIMING_ATTR, ON_COMMIT)
        return receiver

    return decorate


def timing_of(receiver: Callable[..., Any]) -> Timing:
    """When a receiver's work happens: on commit if it says so, else in the sender's transaction."""
    timing: Timing = getattr(receiver, _TIMING_ATTR, IN_TRANSACTION)
    return timing
