"""``courier-web replay_registrations``: one user.registration_replayed.v1 per existing account.

For rebuilding a consumer's read model from scratch (the worker's users,
which reports read): after ``courier-worker read-model reset``. Written to
the outbox in batches, each in its own transaction, and relayed like any
event; no welcome email follows (it is not a registration).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from shared_contracts.events.replays import UserRegistrationReplayed

from courier_web.outbox.writing import outbox_enqueue_many
from courier_web.users.models import User

BATCH = 500
#: What this command publishes, for the AsyncAPI document (``asyncapi_part``).
PUBLISHES = (UserRegistrationReplayed.event_type, "courier-web replay_registrations")


class Command(BaseCommand):
    help = (
        "Replay every existing account's registration (user.registration_replayed.v1) so that "
        "a consumer can rebuild its read model; sends no email."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        correlation_id = f"replay-{uuid.uuid4().hex}"
        replayed = 0
        last = 0
        while True:
            users = list(
                User.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "email", "display_name", "date_joined")[:BATCH]
            )
            if not users:
                break
            with transaction.atomic():
                outbox_enqueue_many(
                    (
                        UserRegistrationReplayed(
                            user_id=pk, email=email, display_name=name, registered_at=joined
                        )
                        for pk, email, name, joined in users
                    ),
                    correlation_id=correlation_id,
                )
            replayed += len(users)
            last = users[-1][0]
        self.stdout.write(f"replayed {replayed} registrations (correlation id {correlation_id})")
