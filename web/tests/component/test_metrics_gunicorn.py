"""GET /metrics under gunicorn with several workers: counts from every worker, summed.

Runs the production server the way the start script does: PROMETHEUS_MULTIPROC_DIR
set and emptied before gunicorn starts.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.component.conftest import closed_port, eventually

REQUESTS = 40


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own server)
        return response.status, response.read().decode()


def test_request_counts_are_summed_over_gunicorn_workers(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="courier_web.config.settings.base",
        COURIER_WEB_HOME=str(tmp_path),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        OUTBOX_DISPATCH="off",
        LOG_LEVEL="WARNING",
    )
    subprocess.run(
        [sys.executable, "-m", "courier_web", "migrate", "-v", "0"],
        env=env,
        check=True,
        timeout=60,
    )
    port = closed_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "courier_web.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert eventually(lambda: _up(base), timeout=20), "gunicorn did not start"
        with ThreadPoolExecutor(max_workers=6) as pool:  # concurrent: several workers answer
            statuses = list(pool.map(lambda _: get(f"{base}/healthz")[0], range(REQUESTS)))
        assert set(statuses) == {200}
        status, text = get(f"{base}/metrics")
        pids = {p.name.split("_")[-1] for p in metrics_dir.glob("*.db")}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)

    assert status == 200
    match = re.search(
        r'(?m)^courier_web_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)',
        text,
    )
    assert match is not None, text
    # _up() may have made a few more /healthz calls before the loop.
    assert float(match[1]) >= REQUESTS
    assert "courier_web_outbox_pending_rows 0.0" in text
    assert len(pids) >= 2, f"only one worker answered: {pids}"


def _up(base: str) -> bool:
    try:
        return get(f"{base}/healthz")[0] == 200
    except OSError:
        time.sleep(0.1)
        return False
