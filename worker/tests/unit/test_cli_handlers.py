from __future__ import annotations

import json

import pytest
from courier_worker.cli import main
from courier_worker.handlers import declarations


def test_handlers_lists_every_declaration_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handlers", "--json"]) == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["event_type"], row["handler"], row["queue"]) for row in rows] == [
        (d.event_type, d.name, d.queue.name) for d in declarations()
    ]
    assert ("user.registered.v1", "courier.worker.critical") in {
        (row["event_type"], row["queue"]) for row in rows
    }


def test_handlers_prints_a_line_per_handler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handlers"]) == 0

    out = capsys.readouterr().out
    assert "user.registered.v1  courier_worker.handlers.users.send_welcome_email" in out
    assert len(out.splitlines()) == len(declarations())
