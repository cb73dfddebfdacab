"""``courier-web signals``: every receiver connected to the model signals, and what it emits."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from courier_web.catalog.registry import catalog
from courier_web.catalog.render import as_json, as_markdown


class Command(BaseCommand):
    help = (
        "List every receiver of the model signals: signal, sender, receiver, whether it runs "
        "in the saving transaction or on commit, and the event it emits. docs/signals.md is "
        "its --format markdown."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--format", choices=("markdown", "json"), default="markdown", help="default: markdown"
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everything",
            help="Django's and other apps' receivers too, not only the web service's own",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = catalog(everything=options["everything"])
        render = as_json if options["format"] == "json" else as_markdown
        self.stdout.write(render(rows), ending="")
