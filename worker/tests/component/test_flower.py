"""Flower, as the compose stack runs it from the worker image, starts against the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.component.helpers import WORKER_DIR, free_port, wait_for

pytestmark = [pytest.mark.component, pytest.mark.timeout(90)]


def test_flower_serves_its_healthcheck(amqp_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RABBITMQ_URL": amqp_url, "COURIER_WORKER_HOME": str(tmp_path)}
    log = (tmp_path / "flower.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "courier_worker.celery_app:app",
            "flower",
            f"--port={port}",
            "--address=127.0.0.1",
        ],
        env=env,
        cwd=WORKER_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def get(path: str) -> tuple[int, str] | None:
        if process.poll() is not None:
            text = (tmp_path / "flower.log").read_text(errors="replace")
            raise AssertionError(f"flower exited with {process.returncode}:\n{text[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            return None

    try:
        status, body = wait_for(lambda: get("/healthcheck"), timeout=30, what="flower to answer")
        assert (status, body) == (200, "OK")
        status, body = wait_for(lambda: get("/"), what="flower's dashboard")
        assert status == 200
        assert "Flower" in body
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
