"""The events a user change emits, declared once each (imported by the outbox app).

``user.registered.v1``: when a user row is created (not on later saves, not by
``loaddata``), written to the outbox in the same transaction.

``entity.changed.v1`` (the audit trail, ``courier_web.audit``): when a user or
a profile is created, changed or deleted. A password change is reported by the
field's name (``password``), never by value; log-ins (``last_login``) are not
changes worth a line. The events of a user carry the new email and display
name (``shared``), which the worker's read model keeps. A profile is keyed by
its user's id (one per user), so ``courier-worker audit profile 7`` reads the
trail of user 7's profile.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from shared_contracts import UserRegistered

from courier_web.audit import audited
from courier_web.outbox import emits
from courier_web.users.models import Profile, User

emits(
    UserRegistered,
    on=post_save,
    sender=User,
    when=lambda user, created, **_: created,
    build=lambda user, **_: UserRegistered(
        user_id=user.pk, email=user.email, display_name=user.display_name
    ),
)

audited(
    User,
    entity="user",
    sensitive={"password"},
    exclude={"last_login"},
    # The worker's read model keeps a copy of these (reports list them).
    shared={"email", "display_name"},
)
audited(Profile, entity="profile", key="user")
