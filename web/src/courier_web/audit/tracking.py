"""Which audited fields a save changed: a snapshot taken when the instance is made, compared after.

The snapshot is taken by ``post_init`` (every instance Django builds, from a
query or by hand) from the values already in the instance's ``__dict__``, so
it costs no query: a deferred field that was never loaded is simply not in
it, and counts as changed when a save names it. After a save, the snapshot
of the saved fields is taken again, so a second save of the same instance is
compared with what the first one wrote. A sensitive field's value is never
copied: its snapshot is a keyed digest, good only for telling "changed" from
"unchanged" within this process.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Tracked"]

_SNAPSHOT_ATTR = "_courier_audit_snapshot"
_MISSING: Any = object()
#: Digests are compared within one process only, so a per-process key will do,
#: and keeps them useless to anyone who reads a dumped instance.
_DIGEST_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class Tracked:
    """The audited fields of one model, by attribute name (``user_id``), and how to compare them."""

    #: attribute name -> the field's name, as events report it (``user_id`` -> ``user``).
    names: Mapping[str, str]
    #: attribute names whose values are compared as digests only.
    sensitive: frozenset[str]
    #: ``update_fields`` may name a field by its name or its attribute name.
    _attnames: Mapping[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        aliases = {name: attname for attname, name in self.names.items()}
        object.__setattr__(self, "_attnames", {**aliases, **{a: a for a in self.names}})

    def snapshot(self, instance: Any, attnames: Collection[str] | None = None) -> None:
        """Remember the current values of ``attnames`` (default: every audited field)."""
        values = instance.__dict__
        snapshot = values.setdefault(_SNAPSHOT_ATTR, {})
        for attname in self.names if attnames is None else attnames:
            if attname in values:
                snapshot[attname] = self._comparable(attname, values[attname])

    def snapshot_saved(self, instance: Any, update_fields: Collection[str] | None) -> None:
        """After a save: what the database now holds is the new starting point."""
        self.snapshot(instance, None if update_fields is None else self._audited(update_fields))

    def changed(self, instance: Any, update_fields: Collection[str] | None) -> tuple[str, ...]:
        """The sorted names of the audited fields whose value differs from the snapshot."""
        values = instance.__dict__
        snapshot = values.get(_SNAPSHOT_ATTR, {})
        attnames = self.names if update_fields is None else self._audited(update_fields)
        return tuple(
            sorted(
                self.names[attname]
                for attname in attnames
                if self._comparable(attname, values.get(attname, _MISSING))
                != snapshot.get(attname, _MISSING)
            )
        )

    def all_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.names.values()))

    def _audited(self, fields: Collection[str]) -> list[str]:
        return [self._attnames[name] for name in fields if name in self._attnames]

    def _comparable(self, attname: str, value: Any) -> Any:
        if attname not in self.sensitive or value is _MISSING:
            return value
        return hashlib.blake2b(repr(value).encode(), digest_size=16, key=_DIGEST_KEY).digest()
