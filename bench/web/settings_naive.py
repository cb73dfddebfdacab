"""``base`` settings where registration sends its event with ``send_task`` after commit.

The naive approach Courier replaces, for the latency section (benchmark only).
"""

from courier_web.config.settings.base import *  # noqa: F403
from courier_web.config.settings.base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.web.apps.NaiveDelayConfig"]
