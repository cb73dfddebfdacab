"""``courier-web asyncapi_part``: the web's part of the system's AsyncAPI document, as JSON.

``make asyncapi`` composes it with the worker's (``shared_contracts.asyncapi``).
What the web publishes is read from its emission declarations
(``courier_web.outbox.emissions()``): one publication per event type, with
every model change that makes it.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from shared_contracts.asyncapi import Publication, ServicePart

from courier_web.consumer.asyncapi import consuming_queues
from courier_web.outbox import emissions
from courier_web.outbox.writing import PRODUCER
from courier_web.reports.management.commands.replay_registrations import (
    PUBLISHES as REPLAY_PUBLISHES,
)

COMMAND_PUBLICATIONS = (REPLAY_PUBLISHES,)

__all__ = ["Command", "web_part"]


def web_part() -> ServicePart:
    """What the web service publishes, and which model changes make each event."""
    triggers: dict[str, set[str]] = {}
    for emission in emissions():
        triggers.setdefault(emission.event_type, set()).add(
            f"{emission.signal_name} of {emission.sender_label}"
        )
    # Events an operator's command publishes (not a model change).
    for event_type, command in COMMAND_PUBLICATIONS:
        triggers.setdefault(event_type, set()).add(command)
    return ServicePart(
        service=PRODUCER,
        description=(
            "The Django web service: a model change writes its event to the transactional "
            "outbox in the same database transaction; the relay publishes it after commit "
            "with publisher confirms and the mandatory flag."
        ),
        publishes=tuple(
            Publication(event_type=event_type, triggers=tuple(sorted(changes)))
            for event_type, changes in sorted(triggers.items())
        ),
        # The results it consumes on its own queue (``courier_web.consumer``).
        consumes=consuming_queues(),
    )


class Command(BaseCommand):
    help = (
        "Print the web's part of the AsyncAPI document (what it publishes, and on which model "
        "changes) as JSON; `make asyncapi` composes it with the worker's."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--output", type=Path, help="write it to this file (default: standard output)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = web_part().model_dump_json(indent=2) + "\n"
        if options["output"] is None:
            self.stdout.write(text, ending="")
        else:
            # A file, not the standard output, which log lines may share.
            options["output"].write_text(text)
