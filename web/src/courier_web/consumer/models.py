"""Which events the web has consumed: a second delivery of one finds its row and does nothing."""

from __future__ import annotations

from django.db import models


class ConsumedEvent(models.Model):
    """One consumed event, written in the transaction of its handler's changes."""

    event_id = models.UUIDField(primary_key=True)
    event_type = models.CharField(max_length=128)
    consumed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "consumer_consumed_event"

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
