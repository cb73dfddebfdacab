"""The queue exporter against the real broker and a real worker: counts, and the waiting age.

Markers go out every half second; the worker answers them while it reads its
queues, and stops answering while its process is stopped (SIGSTOP), so the
age must grow then and fall back once it resumes.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest
from courier_worker.queue_exporter import QueueExporter, watched_queues
from courier_worker.queue_exporter.amqp import run
from courier_worker.queues import BULK, CRITICAL
from kombu import Connection

from tests.component.helpers import Worker, wait_for

pytestmark = [pytest.mark.component, pytest.mark.timeout(120)]

INTERVAL = 0.5


@pytest.fixture
def exporter(amqp_url: str, file_worker: Worker) -> Iterator[QueueExporter]:
    exporter = QueueExporter(watched_queues((5,)), interval=INTERVAL)
    stop = threading.Event()

    def connect() -> Connection:
        return Connection(amqp_url, transport_options={"confirm_publish": True})

    thread = threading.Thread(target=run, args=(exporter, connect, stop), daemon=True)
    thread.start()
    try:
        yield exporter
    finally:
        stop.set()
        thread.join(timeout=10)


def _age(exporter: QueueExporter, queue: str) -> float:
    return exporter.snapshot()[2][queue]


def _counts(exporter: QueueExporter, queue: str) -> tuple[int, int] | None:
    return exporter.snapshot()[1].get(queue)


def test_the_worker_answers_markers_so_the_age_stays_within_the_resolution(
    exporter: QueueExporter, file_worker: Worker
) -> None:
    wait_for(lambda: exporter.snapshot()[0], timeout=20, what="the exporter to reach the broker")
    wait_for(
        lambda: (counts := _counts(exporter, CRITICAL.name)) and counts[1] > 0,
        timeout=10,
        what="the worker's consumer on the critical queue",
    )
    samples = []
    for _ in range(10):
        threading.Event().wait(INTERVAL / 2)
        samples.append(max(_age(exporter, CRITICAL.name), _age(exporter, BULK.name)))

    assert max(samples) <= 2 * INTERVAL, samples
    assert _counts(exporter, CRITICAL.dead_letter_queue) is not None
    # Markers never reach a task: nothing handled, nothing dead-lettered.
    events = {line.get("event") for line in file_worker.log_lines()}
    assert "event.dead_lettered" not in events, file_worker.log()[-2000:]


def test_the_age_grows_while_the_worker_reads_nothing_and_falls_when_it_resumes(
    exporter: QueueExporter, file_worker: Worker
) -> None:
    assert file_worker.process is not None
    pid = file_worker.process.pid
    wait_for(lambda: exporter.snapshot()[0], timeout=20, what="the exporter to reach the broker")
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(
            lambda: _age(exporter, CRITICAL.name) >= 4.0,
            timeout=15,
            what="the critical queue's waiting age to reach 4 s",
        )
        # Past the worker's prefetch window the markers stay ready in the queue.
        wait_for(
            lambda: (counts := _counts(exporter, CRITICAL.name)) and counts[0] > 0,
            timeout=15,
            what="ready messages in the critical queue",
        )
    finally:
        os.kill(pid, signal.SIGCONT)

    wait_for(
        lambda: _age(exporter, CRITICAL.name) <= 2 * INTERVAL,
        timeout=15,
        what="the age to fall back once the worker reads again",
    )
