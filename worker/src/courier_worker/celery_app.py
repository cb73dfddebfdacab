"""The Celery app: ``celery -A courier_worker.celery_app:app worker``.

Configured from the environment (``settings.py``), read lazily when Celery
first needs its configuration; importing this module connects to nothing.
The app declares and consumes its own queues, so no ``-Q`` is needed;
``WORKER_QUEUES`` (or ``-Q``) narrows a worker to some of them, e.g. one
deployment per queue.

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
from celery.exceptions import ImproperlyConfigured
from shared_contracts.topology import EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE

from courier_worker.consumer import DeclareSideQueues
from courier_worker.heartbeat import Heartbeat
from courier_worker.logs import configure_logging
from courier_worker.metrics import MetricsServer
from courier_worker.queues import BULK
from courier_worker.schedule import beat_schedule
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
        # Task events (received, started, succeeded, ...) on the `celeryev` exchange,
        # which Flower reads; nobody bound, the broker drops them. Same as `-E`.
        "worker_send_task_events": settings.WORKER_SEND_TASK_EVENTS,
        # Celery Beat (`celery beat`): the jobs from the settings, sent by our
        # scheduler as events with an id per job and period (courier_worker.beat).
        "beat_schedule": beat_schedule(settings),
        "beat_scheduler": "courier_worker.beat:CourierScheduler",
        # Beat ticks at least this often (seconds): each tick touches its heartbeat file.
        "beat_max_loop_interval": 10,
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
    queue that had no handler then and has one now is added, and consumed
    unless the worker was told which queues to consume.
    """
    register_tasks(app)
    queues = app.amqp.queues
    selecting = _selected(queues)
    for queue in consuming_queues():
        if queue.name in queues.consume_from or (queue.name not in queues and not selecting):
            queues.select_add(queue)
        else:
            queues.add(queue)


def select_queues(app: Celery, names: tuple[str, ...]) -> None:
    """Consume only the queues ``names`` (``WORKER_QUEUES``); nothing to do when empty.

    ``-Q`` selects too; both given must agree, or the worker does not start:
    a worker consuming something else than one of them says is a surprise.
    """
    if not names:
        return
    queues = app.amqp.queues
    if _selected(queues) and set(queues.consume_from) != set(names):
        raise ImproperlyConfigured(
            f"-Q selects {sorted(queues.consume_from)} but WORKER_QUEUES selects "
            f"{sorted(names)}: give one of them"
        )
    idle = [name for name in names if name not in queues]
    if idle:
        raise ImproperlyConfigured(
            f"WORKER_QUEUES names {idle}, on which no handler is declared: nothing to consume"
        )
    queues.select(list(names))


def _selected(queues: Any) -> bool:
    """Whether ``-Q`` (or ``select_queues``) chose the queues to consume.

    Celery keeps no public flag for it: ``consume_from`` answers every queue
    when nothing was selected, and a selection lives in ``_consume_from``.
    """
    return getattr(queues, "_consume_from", None) is not None


@signals.worker_init.connect
def _apply_declarations_on_start(sender: Any = None, **_: Any) -> None:
    # Sent by every worker (the CLI's and an in-process test worker) after it
    # selected its queues and before its consumer starts.
    if getattr(sender, "app", None) is app:
        select_queues(app, get_settings().WORKER_QUEUES)
        apply_declarations(app)


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Any receiver of this signal stops Celery from configuring logging itself.
    configure_logging(get_settings().LOG_LEVEL)
