"""``base`` settings with no middleware at all: the baseline of the middleware figure.

``DJANGO_SETTINGS_MODULE=bench.web.settings_bare`` serves the same views
(``GET /healthz``) as ``base``, minus the whole middleware stack, so the
difference between the two is what the stack costs per request. Not for
serving traffic: no request id, no security headers, no rate limit
(benchmark only).
"""

from courier_web.config.settings.base import *  # noqa: F403

MIDDLEWARE = []
