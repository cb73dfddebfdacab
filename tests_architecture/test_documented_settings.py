"""Every setting a component documents is also in the README's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SETTING_ROW = re.compile(r"^\| ((?:`[A-Z][A-Z0-9_]+`(?:\s*[/,]\s*)?)+) \|", re.MULTILINE)
_NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def _documented(readme: Path) -> set[str]:
    return {name for row in _SETTING_ROW.findall(readme.read_text()) for name in _NAME.findall(row)}


@pytest.mark.parametrize("component", ["web", "worker"])
def test_root_readme_lists_every_component_setting(component: str) -> None:
    settings = _documented(ROOT / component / "README.md")
    assert settings, f"{component}/README.md documents no settings table"
    missing = settings - _documented(ROOT / "README.md")
    assert not missing, f"add to README.md's configuration table: {sorted(missing)}"
