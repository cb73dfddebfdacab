"""``base`` settings with the ``user.registered.v1`` emission undone (benchmark only)."""

from courier_web.config.settings.base import *  # noqa: F403
from courier_web.config.settings.base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.web.apps.EventsOffConfig"]
