"""Settings for the test suite: SQLite, a fast hasher, no background publisher."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from courier_web.config.env import env_list
from courier_web.config.settings.base import *  # noqa: F403
from courier_web.config.settings.base import DATABASES

# A file (not :memory:) so the in-process publisher thread and relays in
# component tests share the test database with the test's own connection.
DATABASES["default"]["TEST"] = {
    "NAME": str(Path(tempfile.gettempdir()) / f"courier-web-test-{os.getpid()}.sqlite3")
}

PASSWORD_HASHERS = env_list(
    "DJANGO_PASSWORD_HASHERS", ["django.contrib.auth.hashers.MD5PasswordHasher"]
)

# Tests install the dispatcher they need (a fake, or a real one in component tests).
OUTBOX_DISPATCH = "off"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
