"""URL map: the JSON API under /api, health probes at the root."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import path, re_path

from courier_web.api import api
from courier_web.api.asyncapi import asyncapi_document
from courier_web.health import views as health
from courier_web.metrics import views as metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    # The events' AsyncAPI document, beside the API's OpenAPI one (/api/openapi.json).
    path("api/asyncapi.json", asyncapi_document, name="asyncapi"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    # The OpenAPI docs page's own assets (Swagger UI ships inside django-ninja),
    # served without collectstatic so /api/docs works offline and under gunicorn.
    re_path(r"^static/(?P<path>ninja/.*)$", serve_static, {"insecure": True}),
]

# Django's own error pages, in the API's JSON error shape.
handler400 = "courier_web.api.errors.bad_request_view"
handler403 = "courier_web.api.errors.forbidden_view"
handler404 = "courier_web.api.errors.not_found_view"
handler500 = "courier_web.api.errors.server_error_view"
