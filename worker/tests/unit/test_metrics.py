"""Metrics recorded in forked children are summed by the parent's endpoint (multiprocess mode)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from courier_worker import metrics

_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from prometheus_client import generate_latest
    from courier_worker import metrics

    directory = Path(sys.argv[1])
    metrics.metrics().retried("before.enable")  # in-memory, then dropped by enable
    metrics.enable_multiprocess(directory)
    metrics.metrics().dead_lettered("undecodable")  # the main process (the consumer)
    children = []
    for _ in range(2):  # like prefork: children forked after the set-up
        pid = os.fork()
        if pid == 0:
            m = metrics.metrics()
            m.outcome("user.registered.v1", "handled", 0.02)
            m.outcome("user.registered.v1", "dead-lettered", 0.5)
            m.retried("user.registered.v1")
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    sys.stdout.write(generate_latest(metrics.collector_registry()).decode())
    """
)


def _sample(text: str, prefix: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(prefix + " ")]
    return float(line.rsplit(" ", 1)[1])


def test_children_add_up(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"stale")  # a previous run's: removed
    (directory / "keep.txt").write_text("not ours")
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = result.stdout
    labels = 'event_type="user.registered.v1"'
    assert _sample(text, f'courier_worker_tasks_total{{{labels},outcome="handled"}}') == 2
    assert _sample(text, f'courier_worker_tasks_total{{{labels},outcome="dead_lettered"}}') == 2
    assert _sample(text, f"courier_worker_retries_total{{{labels}}}") == 2
    assert _sample(text, 'courier_worker_dead_letters_total{reason="undecodable"}') == 1
    assert _sample(text, f"courier_worker_handling_seconds_count{{{labels}}}") == 4
    assert _sample(text, f'courier_worker_handling_seconds_bucket{{{labels},le="0.025"}}') == 2
    assert "before.enable" not in text
    assert (directory / "keep.txt").exists()
    assert not (directory / "counter_999999.db").exists()


def test_in_process_metrics_without_a_server() -> None:
    metrics.reset()
    m = metrics.metrics()
    m.outcome("diagnostic.probe_sent.v1", "duplicate", 0.001)
    value = m.registry.get_sample_value(
        "courier_worker_tasks_total",
        {"event_type": "diagnostic.probe_sent.v1", "outcome": "duplicate"},
    )
    assert value == 1


def test_every_dead_letter_reason_is_known() -> None:
    from courier_worker.deadletter import HANDLER_FAILED
    from courier_worker.retry import RETRIES_EXHAUSTED
    from courier_worker.tasks import REJECTED
    from shared_contracts import ContractError

    reasons = {HANDLER_FAILED, RETRIES_EXHAUSTED, REJECTED}
    reasons |= {error.reason for error in ContractError.__subclasses__()}
    assert reasons == set(metrics.DEAD_LETTER_REASONS)


def test_known_series_start_at_zero() -> None:
    metrics.reset()
    m = metrics.metrics()
    m.zero(["user.registered.v1"], ["handler-failed"])
    registry = m.registry
    for outcome in metrics.OUTCOMES:
        labels = {"event_type": "user.registered.v1", "outcome": outcome}
        assert registry.get_sample_value("courier_worker_tasks_total", labels) == 0
    assert (
        registry.get_sample_value("courier_worker_dead_letters_total", {"reason": "handler-failed"})
        == 0
    )
