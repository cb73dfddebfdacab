"""What RabbitMQ 4.3 refuses, the worker never asks for (the suite's broker proves it live)."""

from __future__ import annotations

from courier_worker.celery_app import app
from courier_worker.settings import DEFAULT_RETRY_DELAYS
from courier_worker.topology import DEAD_LETTER_QUEUES, consuming_queues, delay_queues
from kombu import Queue


def _transient_and_shared(queue: Queue) -> bool:
    return not queue.durable and not queue.exclusive


def test_remote_control_and_event_queues_are_exclusive() -> None:
    # `celery inspect`/`control`, Flower and the workers' gossip declare these.
    mailbox = app.control.mailbox
    receiver = app.events.Receiver(app.connection_for_read(), handlers={})  # connects lazily
    for queue in (mailbox.get_queue("worker@host"), mailbox.get_reply_queue(), receiver.queue):
        assert not _transient_and_shared(queue), queue.name


def test_the_workers_own_queues_are_durable_quorum_queues() -> None:
    queues = (*consuming_queues(), *DEAD_LETTER_QUEUES, *delay_queues(DEFAULT_RETRY_DELAYS))
    for queue in queues:
        assert queue.durable, queue.name
        assert queue.queue_arguments["x-queue-type"] == "quorum", queue.name


def test_prefetch_is_per_consumer() -> None:
    # RabbitMQ 4.3 refuses a global QoS; Celery applies it per consumer on quorum queues.
    assert app.conf.worker_detect_quorum_queues is True
