"""Fixtures of the bench's tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.paths import ROOT


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without Django or database settings; local state in ``tmp_path``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "OUTBOX_"))
    }
    env["COURIER_WEB_HOME"] = str(tmp_path)
    env["PYTHONPATH"] = str(ROOT)
    return env
