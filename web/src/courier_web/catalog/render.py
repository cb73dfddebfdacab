"""The catalog as Markdown (``docs/signals.md``) or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from courier_web.catalog.registry import ReceiverRow

__all__ = ["REGENERATE", "as_json", "as_markdown"]

#: The command that writes docs/signals.md, from the repository's root.
REGENERATE = "(cd web && ../.venv/bin/courier-web signals --format markdown > ../docs/signals.md)"

_INTRO = f"""\
# Signals: every receiver of the web service

Generated from the running service's signal registry and its emission
declarations by `courier-web signals --format markdown`; do not edit by hand.
A test fails when this file is stale. Regenerate it with:

```sh
{REGENERATE}
```

What each column says:

- **signal**, **sender**: what fires the receiver. `post_bulk_create` and
  `post_bulk_update` are sent by `courier_web.outbox.evented_bulk_create` /
  `evented_bulk_update`, once per call with every instance: Django's own
  `bulk_create` and `update` send no signal at all (and are refused on a model
  whose saves emit events, see `docs/bulk-writes.md`).
- **receiver**: the function (dotted path), or the `emits(...)` declaration
  that connected it.
- **runs**: *in transaction*: as the signal fires, so for a save or a deletion
  inside the transaction that made it, and a rollback undoes what it wrote;
  *on commit*: its work waits for that transaction's commit
  (`courier_web.receivers.after_commit`), and a rollback runs nothing.
- **emits**: the event type it writes to the outbox (published after commit).

Receivers of the same signal and sender run in the order listed.
"""


def as_markdown(rows: Sequence[ReceiverRow]) -> str:
    lines = [
        _INTRO,
        "| signal | sender | receiver | runs | emits |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        emits = f"`{row.emits}`" if row.emits else "—"
        lines.append(
            f"| `{row.signal}` | `{row.sender}` | `{row.receiver}` | {row.runs} | {emits} |"
        )
    return "\n".join(lines) + "\n"


def as_json(rows: Sequence[ReceiverRow]) -> str:
    return json.dumps([row.as_dict() for row in rows], indent=2) + "\n"
