"""The Celery app: ``celery -A courier_worker.celery_app:app worker``.

Configured from the environment (``settings.py``), read lazily when Celery
first needs its configuration; importing this module connects to nothing.
The app declares and consumes its own queues, so no ``-Q`` is needed.

Its tasks and queue bindings are derived from the handler declarations
(``handlers.registry``): once when this module is imported (every handler
module is imported by then), and again when a worker starts
(``apply_declarations``, on ``worker_init``), so that a handler declared
later, e.g. in a test module, is handled too. The rule: declare a handler
before the worker starts; one declared while it runs is not consumed.
"""

from __future__ import annotations

import random
from typing import Any

from celery import Celery, signals
from shared_contracts.topology import EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE

from courier_worker.consumer import DeclareSideQueues
from courier_worker.heartbeat import Heartbeat
from courier_worker.logs import configure_logging
from courier_worker.metrics import MetricsServer
from courier_worker.queues import BULK
from courier_worker.settings import Settings, get_settings
from courier_worker.tasks import register_tasks
from courier_worker.topology import consuming_queues


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings derived from ours."""
    return {
        "broker_url": spread_over_nodes(settings.broker_urls),
        # Every message the worker publishes (dead letters, retries) waits for
        # the broker's confirm.
        "broker_transport_options": {"confirm_publish": True},
        "broker_connection_retry_on_startup": True,
        # Wire format: JSON only (the codec in shared_contracts); never pickle.
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        # At-least-once: ack after the handler ran; a killed worker's (or pool
        # child's) message goes back to the queue; a failure is rejected without
        # requeue, which our queues dead-letter instead of acknowledging it away.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": False,
        # A broker connection lost mid-task (a cluster node gone) lets running
        # handlers finish: their acks go with the channel, the broker redelivers
        # and the idempotency store turns the copies away. Cancelling them
        # (SIGTERM to the pool child) could stop one between its email and its
        # commit, and its redelivery would send the email again.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_soft_time_limit": 60,
        "task_time_limit": 90,
        "worker_prefetch_multiplier": settings.WORKER_PREFETCH,
        # Topology: our queues only, never created implicitly from a task route.
        "task_queues": consuming_queues(),
        "task_create_missing_queues": False,
        "task_default_queue": BULK.name,
        "task_default_exchange": EVENTS_EXCHANGE,
        "task_default_exchange_type": EVENTS_EXCHANGE_TYPE,
        # Quorum queues reject global QoS; Celery switches to per-consumer QoS.
        "worker_detect_quorum_queues": True,
        # RabbitMQ 4.3 refuses transient non-exclusive queues (4.0-4.2 when told
        # to, as the suite's broker is): remote control's queues and the event
        # receivers' (gossip, Flower) are exclusive. Celery 5.7's default; 5.6's is not.
        "control_queue_exclusive": True,
        "event_queue_exclusive": True,
        "worker_consumer": "courier_worker.consumer:CourierConsumer",
        "worker_hijack_root_logger": False,
        "enable_utc": True,
    }


def spread_over_nodes(urls: tuple[str, ...]) -> str:
    """kombu's failover list (``;``), starting at a random node.

    kombu always connects to the first URL and goes round the list from
    there on failure: a random start spreads the workers over a cluster's
    nodes, so that losing one node drops only its share of them.
    """
    start = random.randrange(len(urls))
    return ";".join(urls[start:] + urls[:start])


app = Celery("courier_worker", set_as_current=False)
app.add_defaults(lambda: celery_config(get_settings()))
app.steps["worker"].add(Heartbeat)
app.steps["worker"].add(MetricsServer)
app.steps["consumer"].add(DeclareSideQueues)
register_tasks(app)


def apply_declarations(app: Celery) -> None:
    """Bring ``app`` up to date with the handler declarations: a task and bindings for each.

    Celery reads its queues once (``app.amqp.queues``, from ``task_queues``);
    a queue whose bindings changed since is replaced by its current
    declaration and stays consumed if it was (``-Q`` selections included); a
    queue that had no handler then and has one now is added and consumed.
    """
    register_tasks(app)
    queues = app.amqp.queues
    for queue in consuming_queues():
        if queue.name in queues.consume_from or queue.name not in queues:
            queues.select_add(queue)
        else:
            queues.add(queue)


@signals.worker_init.connect
def _apply_declarations_on_start(sender: Any = None, **_: Any) -> None:
    # Sent by every worker (the CLI's and an in-process test worker) after it
    # selected its queues and before its consumer starts.
    if getattr(sender, "app", None) is app:
        apply_declarations(app)


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Any receiver of this signal stops Celery from configuring logging itself.
    configure_logging(get_settings().LOG_LEVEL)
