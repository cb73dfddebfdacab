"""URL map: the JSON API under /api, health probes at the root."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import path, re_path

from courier_web.api import api
from courier_web.health import views as health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    # The OpenAPI docs page's own assets (Swagger UI ships inside django-ninja),
    # served without collectstatic so /api/docs works offline and under gunicorn.
    re_path(r"^static/(?P<path>ninja/.*)$", serve_static, {"insecure": True}),
]
