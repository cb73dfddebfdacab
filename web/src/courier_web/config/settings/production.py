"""Production settings: the base ones, configured only through the environment.

They refuse to start without ``DJANGO_SECRET_KEY`` and pass
``courier-web check --deploy`` with their defaults.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from courier_web.config.env import env_bool, env_int
from courier_web.config.settings.base import *  # noqa: F403

if not os.environ.get("DJANGO_SECRET_KEY"):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set: production settings refuse to start with the "
        "development key. Set it to a long random value (e.g. from "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
    )

# HTTPS. The integration suite and compose speak plain HTTP on loopback and set
# DJANGO_SECURE_SSL_REDIRECT=false; probes and /metrics are exempt anyway
# (SECURE_REDIRECT_EXEMPT in base).
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading is a commitment for the whole domain that only its owner can make
# (and is slow to undo), so it is opt-in, and check --deploy's reminder about
# it (security.W021) is silenced below.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    # Only behind a proxy that sets (and strips a client's) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", True)

SILENCED_SYSTEM_CHECKS = ["security.W021"] if not SECURE_HSTS_PRELOAD else []
