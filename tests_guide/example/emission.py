"""Place 2 of 3, the emission: what ``web/src/courier_web/users/events.py`` gains."""

from __future__ import annotations

from courier_web.outbox import emits
from courier_web.users.models import User
from django.db.models.signals import post_save

from tests_guide.example.contract import DisplayNameChanged

emission = emits(
    DisplayNameChanged,
    on=post_save,
    sender=User,
    when=lambda user, created, update_fields=None, **_: (
        not created and update_fields is not None and "display_name" in update_fields
    ),
    build=lambda user, **_: DisplayNameChanged(
        user_id=user.pk, email=user.email, display_name=user.display_name
    ),
)
