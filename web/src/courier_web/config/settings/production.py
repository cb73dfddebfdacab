"""Production settings: the base ones, configured only through the environment."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from courier_web.config.settings.base import *  # noqa: F403

if not os.environ.get("DJANGO_SECRET_KEY"):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set: production settings refuse to start with the "
        "development key. Set it to a long random value (e.g. from "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
    )
