"""The README's handler and queue tables say what the declarations say.

The tables show the handlers this service ships with; every row must be true.
``courier-worker handlers`` prints the complete, current list (a new
handler need not be added to the README).
"""

from __future__ import annotations

import re
from pathlib import Path

from courier_worker.handlers import declarations
from courier_worker.queues import QUEUES, routing_keys
from courier_worker.settings import DEFAULT_RETRY_DELAYS

README = Path(__file__).resolve().parents[2] / "README.md"
_CODE = re.compile(r"`([^`]+)`")
#: Every worker queue name the README may mention (a placeholder like ``<queue>`` aside).
_WORKER_NAME = re.compile(r"courier\.worker\.[a-z0-9.\-]+[a-z0-9]")


def _rows(header: str) -> list[list[str]]:
    """The cells of the table whose header row is ``header``."""
    lines = README.read_text().splitlines()
    start = lines.index(header) + 2  # the header and its separator
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _code(cell: str) -> list[str]:
    return _CODE.findall(cell)


def test_every_handler_in_the_table_is_declared_as_it_says() -> None:
    documented = {
        (_code(event)[0], _code(handler)[0], _code(queue)[0])
        for event, handler, queue, _effect in _rows("| event type | handler | queue | effect |")
    }
    declared = {
        (d.event_type, d.name.removeprefix("courier_worker."), d.queue.name) for d in declarations()
    }
    assert documented
    assert documented <= declared, sorted(documented - declared)


def test_queue_table_shows_the_derived_bindings() -> None:
    rows = _rows("| entity | kind | bound by |")
    for spec in QUEUES:
        [(kind, bound)] = [
            (kind, bound) for entity, kind, bound in rows if entity == f"`{spec.name}`"
        ]
        assert kind == "durable quorum queue", spec.name
        assert set(_code(bound)) <= set(routing_keys(spec)), spec.name
    dead_letter_queues = [spec.dead_letter_queue for spec in QUEUES]
    assert [_code(entity) for entity, _kind, _bound in rows].count(dead_letter_queues) == 1


def test_every_worker_queue_named_in_the_readme_exists() -> None:
    known = {spec.name for spec in QUEUES} | {spec.dead_letter_queue for spec in QUEUES}
    known |= {spec.delay_queue(seconds) for spec in QUEUES for seconds in DEFAULT_RETRY_DELAYS}
    mentioned = set(_WORKER_NAME.findall(README.read_text()))
    assert mentioned <= known, sorted(mentioned - known)
