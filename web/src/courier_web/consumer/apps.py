from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class ConsumerConfig(AppConfig):
    """The record of consumed events and the ``consume_events`` command.

    Its ``ready()`` imports every installed app's ``results`` module, whose
    ``@consumes`` declarations register the web's handlers.
    """

    name = "courier_web.consumer"
    label = "consumer"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        autodiscover_modules("results")
