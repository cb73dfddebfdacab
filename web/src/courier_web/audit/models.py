"""Per-entity version counters: what orders the changes of one audited record."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class EntityVersion(models.Model):
    """The version of an audited record's latest change after its creation (which is 1).

    Holds no personal data: an audit name, a key and a number. A row is
    written at a record's first change after its creation, so creating one
    costs no statement here (``versions.py``).
    """

    entity = models.CharField(max_length=64)
    entity_id = models.CharField(max_length=64)
    version = models.PositiveBigIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["entity", "entity_id"], name="audit_entity_version_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.entity_id} v{self.version}"
