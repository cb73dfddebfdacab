"""``python -m shared_contracts.asyncapi``: writes both files, and its check names the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_contracts.asyncapi import ServicePart
from shared_contracts.asyncapi.__main__ import main


@pytest.fixture
def parts(tmp_path: Path, producer: ServicePart, consumer: ServicePart) -> list[str]:
    paths = []
    for part in (producer, consumer):
        path = tmp_path / f"{part.service}.json"
        path.write_text(part.model_dump_json())
        paths.append(str(path))
    return paths


def _args(tmp_path: Path, parts: list[str], *extra: str) -> list[str]:
    return [
        "--json",
        str(tmp_path / "out" / "asyncapi.json"),
        "--markdown",
        str(tmp_path / "docs" / "asyncapi.md"),
        *extra,
        *parts,
    ]


def test_write_then_check_passes(tmp_path: Path, parts: list[str]) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "docs").mkdir()

    assert main(_args(tmp_path, parts)) == 0
    assert main(_args(tmp_path, parts, "--check")) == 0

    document = json.loads((tmp_path / "out" / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.0.0"
    page = (tmp_path / "docs" / "asyncapi.md").read_text()
    assert "[`../out/asyncapi.json`](../out/asyncapi.json)" in page


def test_check_fails_on_drift_and_names_the_make_target(
    tmp_path: Path, parts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "docs").mkdir()
    main(_args(tmp_path, parts))
    page = tmp_path / "docs" / "asyncapi.md"
    page.write_text(page.read_text().replace("user.registered.v1", "user.registered.v0"))

    assert main(_args(tmp_path, parts, "--check")) == 1

    err = capsys.readouterr().err
    assert "asyncapi.md differs" in err
    assert "`make asyncapi`" in err
    assert "asyncapi.json differs" not in err


def test_a_part_that_is_not_one_is_refused_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "web.json"
    bad.write_text('{"service": "x"}')

    with pytest.raises(SystemExit, match=r"web\.json: not a service part"):
        main(_args(tmp_path, [str(bad)]))
