"""The events a user change emits, declared once each (imported by the outbox app).

``user.registered.v1``: when a user row is created (not on later saves, not by
``loaddata``), written to the outbox in the same transaction.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from shared_contracts import UserRegistered

from courier_web.outbox import emits
from courier_web.users.models import User

emits(
    UserRegistered,
    on=post_save,
    sender=User,
    when=lambda user, created, **_: created,
    build=lambda user, **_: UserRegistered(
        user_id=user.pk, email=user.email, display_name=user.display_name
    ),
)
