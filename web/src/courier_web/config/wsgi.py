"""WSGI entry point: ``gunicorn courier_web.config.wsgi:application``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courier_web.config.settings.base")

application = get_wsgi_application()
