from __future__ import annotations

from courier_worker.celery_app import app
from courier_worker.handlers import HANDLERS
from courier_worker.queues import QUEUES, routing_keys
from courier_worker.topology import DEAD_LETTER_QUEUES, consuming_queues, queue_arguments
from shared_contracts import EVENT_TYPES
from shared_contracts.topology import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE


def test_every_handler_is_a_contract_and_a_task() -> None:
    assert set(HANDLERS) <= set(EVENT_TYPES)
    for event_type in HANDLERS:
        task = app.tasks[event_type]
        assert task.acks_late
        assert task.reject_on_worker_lost


def test_every_bound_routing_key_has_a_handler() -> None:
    bound = {key for spec in QUEUES for key in routing_keys(spec)}
    assert bound == set(HANDLERS)


def test_queues_are_quorum_with_dead_lettering() -> None:
    assert [q.name for q in consuming_queues()] == [spec.name for spec in QUEUES]
    for queue, spec in zip(consuming_queues(), QUEUES, strict=True):
        assert queue.durable
        assert {b.exchange.name for b in queue.bindings} == {EVENTS_EXCHANGE}
        assert app.amqp.queues[queue.name].exchange.name == EVENTS_EXCHANGE
        assert {b.routing_key for b in queue.bindings} == set(routing_keys(spec))
        assert queue.queue_arguments == queue_arguments(spec)
        assert queue.queue_arguments["x-queue-type"] == "quorum"
        assert queue.queue_arguments["x-dead-letter-exchange"] == DEAD_LETTER_EXCHANGE
    for queue, spec in zip(DEAD_LETTER_QUEUES, QUEUES, strict=True):
        assert queue.name == spec.dead_letter_queue == queue.routing_key
        assert queue.exchange.name == DEAD_LETTER_EXCHANGE


def test_celery_configuration() -> None:
    conf = app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.task_acks_on_failure_or_timeout is False
    assert conf.broker_transport_options == {"confirm_publish": True}
    assert conf.task_create_missing_queues is False
    assert conf.worker_detect_quorum_queues is True
    assert conf.worker_hijack_root_logger is False
    assert conf.result_backend is None
