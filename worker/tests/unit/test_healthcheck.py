from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from courier_worker.cli import main
from courier_worker.heartbeat import beat


def test_fresh_heartbeat_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    beat(path)
    assert main(["healthcheck", "--file", str(path), "--max-age", "30"]) == 0


def test_stale_or_missing_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "hb"
    assert main(["healthcheck", "--file", str(path)]) == 1
    beat(path)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert main(["healthcheck", "--file", str(path), "--max-age", "60"]) == 1


def test_init_db_is_idempotent(worker_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init-db"]) == 0
    assert main(["init-db"]) == 0
    assert (worker_home / "var" / "worker.sqlite3").exists()
