from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules

if TYPE_CHECKING:
    from courier_web.outbox.dispatch import Dispatcher


class OutboxConfig(AppConfig):
    """Outbox rows, the in-process publisher and the ``relay_outbox`` command.

    Its ``ready()`` is the web service's composition root for events: it builds
    the dispatcher once and imports every installed app's ``events`` module,
    whose ``emits(...)`` declarations connect their receivers.
    """

    name = "courier_web.outbox"
    label = "outbox"
    default_auto_field = "django.db.models.BigAutoField"

    #: Who publishes a committed row right away (``dispatch.py``); set by ``ready()``.
    dispatcher: Dispatcher

    def ready(self) -> None:
        # Imported here: the dispatch chain reaches the models, loaded only now.
        from courier_web.outbox.dispatch import dispatcher_from_settings

        # Building it opens nothing: a threaded dispatcher starts on its first row.
        self.dispatcher = dispatcher_from_settings()
        # Every model is loaded by now, so the declarations may name any of
        # them, whatever the order of INSTALLED_APPS (as admin.autodiscover()).
        autodiscover_modules("events")
        # courier.E001: a model whose saves emit must refuse silent bulk writes.
        from courier_web.outbox import checks  # noqa: F401
