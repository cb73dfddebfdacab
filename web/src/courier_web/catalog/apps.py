from __future__ import annotations

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The ``courier-web signals`` command: what runs when a model signal fires."""

    name = "courier_web.catalog"
    label = "catalog"
