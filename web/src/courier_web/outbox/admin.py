from __future__ import annotations

from django.contrib import admin

from courier_web.outbox.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "event_type", "event_id", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "correlation_id")
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
