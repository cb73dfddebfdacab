from __future__ import annotations

import pytest
from shared_contracts.asyncapi import (
    ConsumingQueue,
    DeadLetters,
    DelayQueue,
    Handler,
    Publication,
    Queue,
    Retries,
    ServicePart,
)


@pytest.fixture
def producer() -> ServicePart:
    return ServicePart(
        service="shop-web",
        description="Publishes registrations.",
        publishes=(Publication(event_type="user.registered.v1", triggers=("post_save of Users",)),),
    )


@pytest.fixture
def consumer() -> ServicePart:
    return ServicePart(
        service="shop-worker",
        description="Handles registrations.",
        consumes=(
            ConsumingQueue(
                name="shop.mail",
                description="Mail to send.",
                arguments={"x-queue-type": "quorum"},
                bindings=("user.registered.v1",),
                handlers=(Handler(event_type="user.registered.v1", handler="mail.welcome"),),
                dead_letters=DeadLetters(
                    queue=Queue(name="shop.mail.dead-letter"),
                    exchange="courier.dead-letter",
                    headers={"x-why-detail": "what went wrong"},
                    reason_header="x-why",
                    reasons={"undecodable": "not JSON", "handler-failed": "failed for good"},
                ),
                retries=Retries(
                    address="shop.mail.delay.{seconds}s",
                    queues=(
                        DelayQueue(name="shop.mail.delay.1s", seconds=1),
                        DelayQueue(name="shop.mail.delay.30s", seconds=30),
                    ),
                    header="retries",
                    max_retries=3,
                ),
            ),
        ),
    )
