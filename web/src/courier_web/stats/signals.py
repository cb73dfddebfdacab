"""Receivers that keep the cached statistics true; imported by ``StatsConfig.ready()``.

Each runs after the commit of the transaction that created or deleted users
(``courier_web.receivers.after_commit``): a read between the change and its
commit still sees the old numbers, a rolled-back change never invalidates,
and the next read after the commit recomputes. Users written in bulk
(``evented_bulk_create``) send ``post_bulk_create`` instead of ``post_save``.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from courier_web.outbox import post_bulk_create
from courier_web.receivers import after_commit
from courier_web.stats.services import stats_invalidate
from courier_web.users.models import User


@receiver(post_save, sender=User, dispatch_uid="stats.user_created")
@after_commit(when=lambda created, **_: bool(created))
def user_created(sender: type[User], **kwargs: Any) -> None:
    """post_save(User, created): the user count and today's signups changed."""
    stats_invalidate()


@receiver(post_bulk_create, sender=User, dispatch_uid="stats.users_created_in_bulk")
@after_commit()
def users_created_in_bulk(sender: type[User], **kwargs: Any) -> None:
    """post_bulk_create(User): an import changed the counts."""
    stats_invalidate()


@receiver(post_delete, sender=User, dispatch_uid="stats.user_deleted")
@after_commit()
def user_deleted(sender: type[User], **kwargs: Any) -> None:
    """post_delete(User): the user count (and maybe a day's signups) changed."""
    stats_invalidate()
