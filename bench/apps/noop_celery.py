"""A bare Celery app: a no-op task under the probe's name, Courier's queue, no Courier code path.

``celery -A bench.apps.noop_celery:app worker -Q courier.worker.bulk``: the
consume section's baseline. Same broker settings as the Courier worker where
they change the cost of a delivery (JSON, late acks, reject on worker lost,
prefetch multiplier, per-consumer QoS on the quorum queue), but stock Celery's
consumer and a task body that does nothing.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from courier_worker.topology import consuming_queues
from shared_contracts import ProbeSent

app = Celery("courier-bench-noop", set_as_current=False)
app.conf.update(
    broker_url=os.environ["RABBITMQ_URL"],
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=int(os.environ.get("WORKER_PREFETCH", "4")),
    task_queues=list(consuming_queues()),
    task_create_missing_queues=False,
    worker_detect_quorum_queues=True,
)


@app.task(name=ProbeSent.event_type, acks_late=True, ignore_result=True)
def noop(*args: Any, **kwargs: Any) -> None:
    """Does nothing: what is left is Celery's own cost per delivery."""
