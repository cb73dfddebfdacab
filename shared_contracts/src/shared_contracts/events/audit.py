"""Events of the audit trail: which record changed, how, and who asked for it."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, PositiveInt, StringConstraints
from shared_contracts.events.base import Event

#: A field's name as the producer's model spells it.
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
#: The new value of a field its producer shares (text, a number, a flag, or none).
SharedValue = Annotated[str, StringConstraints(max_length=1000)] | int | bool | None


class EntityChanged(Event):
    """A record of the producer was created, updated or deleted.

    Emitted: once per change, when the transaction that made it commits: a
    creation, a save that changed at least one audited field (a save that
    changes nothing emits nothing), a deletion.
    Key field: ``entity`` with ``entity_id``; ``version`` orders the changes
    of one entity (1 for its creation, then one more per change, in commit
    order), so a consumer can tell a stale change from a newer one.
    Carries the names of the changed fields. Values only in ``values``, and
    only of the fields the producer declares shared because consumers keep a
    copy of them (a user's email and display name, for the worker's read
    model): never a sensitive field's, no password, hash or token, ever.
    Revision 2 added ``values``; a consumer of revision 1 reads it without.
    """

    event_type: ClassVar[str] = "entity.changed.v1"
    schema_version: ClassVar[int] = 2

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
    #: The new values of the changed fields the producer shares (all of them
    #: at creation; none at deletion). Absent from revision 1.
    values: Annotated[dict[FieldName, SharedValue], Field(max_length=64)] = Field(
        default_factory=dict
    )
