"""The consume ceiling: a raw kombu consumer, JSON decode and a manual ack per message.

``python -m bench.apps.kombu_raw``: consumes the worker's bulk queue (declared
by the bench; ``BENCH_QUEUE`` for another) with per-consumer QoS
``BENCH_PREFETCH`` until SIGTERM.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from courier_worker.queues import BULK
from kombu import Connection, Consumer, Queue

_stop = False


def _request_stop(*_: Any) -> None:
    global _stop
    _stop = True


def main() -> None:
    signal.signal(signal.SIGTERM, _request_stop)
    prefetch = int(os.environ.get("BENCH_PREFETCH", "4"))
    queue = Queue(os.environ.get("BENCH_QUEUE", BULK.name), no_declare=True)

    def on_message(body: Any, message: Any) -> None:
        # ``body`` is already JSON-decoded (accept=["json"]).
        if not isinstance(body, list):
            raise TypeError("not a task message")
        message.ack()

    with Connection(os.environ["RABBITMQ_URL"]) as connection:
        consumer = Consumer(
            connection.channel(),
            queues=[queue],
            callbacks=[on_message],
            accept=["json"],
            prefetch_count=prefetch,  # per consumer (basic.qos, global=False)
        )
        with consumer:
            while not _stop:
                try:
                    connection.drain_events(timeout=0.5)
                except TimeoutError:
                    continue


if __name__ == "__main__":
    main()
