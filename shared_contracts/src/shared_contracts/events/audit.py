"""Events of the audit trail: which record changed, how, and who asked for it."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, PositiveInt, StringConstraints
from shared_contracts.events.base import Event

#: A field's name as the producer's model spells it (never its value).
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class EntityChanged(Event):
    """A record of the producer was created, updated or deleted.

    Emitted: once per change, when the transaction that made it commits: a
    creation, a save that changed at least one audited field (a save that
    changes nothing emits nothing), a deletion.
    Key field: ``entity`` with ``entity_id``; ``version`` orders the changes
    of one entity (1 for its creation, then one more per change, in commit
    order), so a consumer can tell a stale change from a newer one.
    Carries the names of the changed fields, never their values: no personal
    data, no password, hash or token, ever.
    """

    event_type: ClassVar[str] = "entity.changed.v1"
    schema_version: ClassVar[int] = 1

    #: What kind of record: ``user``, ``profile``... (the producer's audit name).
    entity: Annotated[str, Field(min_length=1, max_length=64)]
    #: The record's key in the producer, as text.
    entity_id: Annotated[str, Field(min_length=1, max_length=64)]
    action: Literal["created", "updated", "deleted"]
    #: Per entity: 1 at creation, then one more per change, in commit order.
    version: Annotated[int, Field(ge=1)]
    #: Sorted names of the fields that changed (every audited field at
    #: creation; none at deletion).
    changed_fields: Annotated[tuple[FieldName, ...], Field(max_length=256)] = ()
    #: The authenticated user whose request made the change, if any.
    actor_id: PositiveInt | None = None
