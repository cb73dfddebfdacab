"""The ``courier-web`` command: Django's manage.py for the installed service."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a Django management command (``courier-web migrate``, ``relay_outbox``...)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courier_web.config.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
