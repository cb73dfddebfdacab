"""Newsletters end to end: 200 users, three worker containers, one deployment-wide rate.

This module runs a stack of its own (RabbitMQ, PostgreSQL, SMTP sink, web,
relay, consumer and three workers), because a newsletter goes to every
opted-in user in the database: on the shared session stack its size would
depend on which tests ran before. The web writes chunks of ``CHUNK``
recipients, so that every worker has chunks to send; the workers are told
``NEWSLETTER_RATE_LIMIT=RATE``, which they must hold *together*. The rate
is measured from the SMTP sink's own receipt timestamps.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from testcontainers.core.network import Network

from ..support.clients import WebClient
from ..support.containers import Postgres, RabbitMQ, Redis, SmtpSink
from ..support.images import Images
from ..support.polling import wait_until
from ..support.stack import Stack, _stop_services, _storage_volume

PASSWORD = "correct-horse-9"
RATE = 10
CHUNK = 20
WORKERS = 3
#: 200 users of the test's domain: 199 imported, one opted out, one registering later.
IMPORTED = 199


class NewsletterStack(Stack):
    """The suite's stack with small chunks on the web and a shared rate on every worker."""

    def web_env(self) -> dict[str, str]:
        return {**super().web_env(), "NEWSLETTER_CHUNK_SIZE": str(CHUNK)}

    def worker_env(self) -> dict[str, str]:
        return {**super().worker_env(), "NEWSLETTER_RATE_LIMIT": str(RATE)}


@pytest.fixture(scope="module")
def news_stack() -> Iterator[NewsletterStack]:
    images = Images.from_environment()
    with contextlib.ExitStack() as cleanup:
        network = Network()
        network.create()
        cleanup.callback(network.remove)
        rabbitmq = cleanup.enter_context(RabbitMQ(images.rabbitmq, network))
        postgres = cleanup.enter_context(Postgres(images.postgres, network))
        postgres.create_databases()
        smtp = cleanup.enter_context(SmtpSink(images.smtp_sink, network))
        redis = cleanup.enter_context(Redis(images.redis, network))
        stack = NewsletterStack(images, network, rabbitmq, postgres, smtp, redis)
        stack.storage_volume = cleanup.enter_context(_storage_volume())
        cleanup.callback(_stop_services, stack)
        stack.start_web()
        stack.start_relay()
        stack.start_consumer()
        for _ in range(WORKERS):
            stack.add_worker()
        yield stack


@dataclass
class Population:
    """The test's users, and who should get the next newsletter."""

    staff_token: str
    domain: str
    ids: dict[str, int]
    expected: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def population(news_stack: NewsletterStack) -> Population:
    assert news_stack.web is not None
    web = WebClient(news_stack.web.base_url)
    domain = f"t{uuid.uuid4().hex[:12]}.example.com"
    staff = f"staff@s{uuid.uuid4().hex[:8]}.example.com"
    news_stack.web.create_staff(staff, PASSWORD)
    token = web.token(staff, PASSWORD)
    rows = [{"email": f"user{n}@{domain}"} for n in range(IMPORTED)]
    imported = web.call("POST", "/api/users/import", token=token, json=rows)
    assert imported.status_code == 201, imported.text
    ids = {c["email"]: c["id"] for c in imported.json()["created"]}
    assert len(ids) == IMPORTED
    # The staff account is a user too: opted out, so the newsletter is the domain's alone.
    staff_id = next(
        user_id
        for user_id in range(1, min(ids.values()))
        if web.call("GET", f"/api/users/{user_id}", token=token).json().get("email") == staff
    )
    for user_id in (staff_id, ids[f"user0@{domain}"]):
        answer = web.call(
            "PATCH", f"/api/users/{user_id}", token=token, json={"newsletter_opt_in": False}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["newsletter_opt_in"] is False
    # The welcome emails first, so that they do not share the SMTP sink with the measurement.
    wait_until(
        lambda: len(news_stack.smtp.messages_to(domain)) >= IMPORTED,
        timeout=120,
        what=f"{IMPORTED} welcome emails",
        interval=1,
    )
    expected = {f"user{n}@{domain}" for n in range(1, IMPORTED)}
    return Population(staff_token=token, domain=domain, ids=ids, expected=expected)


def send(web: WebClient, population: Population, subject: str) -> dict[str, Any]:
    body = {"subject": subject, "body": f"{subject}: all the news that fits."}
    response = web.call("POST", "/api/newsletters", token=population.staff_token, json=body)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    assert created["status"] == "sending"
    return created


def completed(web: WebClient, population: Population, newsletter_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        answer = web.call(
            "GET", f"/api/newsletters/{newsletter_id}", token=population.staff_token
        ).json()
        return answer if answer["status"] == "completed" else None

    return wait_until(done, timeout=150, what=f"newsletter {newsletter_id} to complete", interval=1)


def received(stack: Stack, subject: str) -> list[dict[str, Any]]:
    return [m for m in stack.smtp.messages() if m["subject"] == subject]


def busiest_second(timestamps: list[float]) -> int:
    """The most timestamps in any one-second window (windows start at each timestamp)."""
    ordered = sorted(timestamps)
    end, most = 0, 0
    for start, t in enumerate(ordered):
        while end < len(ordered) and ordered[end] < t + 1.0:
            end += 1
        most = max(most, end - start)
    return most


def test_a_newsletter_reaches_each_opted_in_user_once_at_the_shared_rate(
    news_stack: NewsletterStack, population: Population
) -> None:
    assert news_stack.web is not None
    web = WebClient(news_stack.web.base_url)
    subject = f"News {uuid.uuid4().hex[:8]}"
    expected = set(population.expected)

    created = send(web, population, subject)
    late = f"late@{population.domain}"
    assert web.register(late, password=PASSWORD).status_code == 201
    population.expected = expected | {late}  # a recipient of the next newsletter

    assert created["total"] == len(expected) == IMPORTED - 1
    progress = completed(web, population, created["id"])
    assert (progress["sent"], progress["failed"], progress["total"]) == (198, 0, 198)

    mails = received(news_stack, subject)
    recipients = Counter(r for mail in mails for r in mail["rcpt_tos"])
    assert set(recipients) == expected  # not the opted-out user, not the late one
    assert max(recipients.values()) == 1
    # One pace for the deployment, measured where the emails arrive.
    stamps = [mail["received_ts"] for mail in mails]
    assert busiest_second(stamps) <= RATE + 1, f"{busiest_second(stamps)} in one second"
    assert max(stamps) - min(stamps) >= len(stamps) / RATE - 1
    # ...although all three workers sent.
    for worker in news_stack.workers:
        reports = [
            line
            for line in worker.logs().splitlines()
            if "newsletter.chunk_sent" in line and created["id"] in line
        ]
        assert reports, f"{worker.alias} sent no chunk of the newsletter"

    # Each email's List-Unsubscribe link works without logging in.
    leaving = f"user5@{population.domain}"
    [mail] = [m for m in mails if leaving in m["rcpt_tos"]]
    link = urlsplit(mail["headers"]["List-Unsubscribe"].strip("<>"))
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    answer = web.get(f"{link.path}?{link.query}")
    assert answer.status_code == 200, answer.text
    population.expected -= {leaving}
    user = web.call(
        "GET", f"/api/users/{population.ids[leaving]}", token=population.staff_token
    ).json()
    assert user["newsletter_opt_in"] is False
    assert web.get(f"{link.path}?token=forged").status_code == 400


def test_a_worker_killed_mid_newsletter_sends_nobody_a_second_copy(
    news_stack: NewsletterStack, population: Population
) -> None:
    assert news_stack.web is not None
    web = WebClient(news_stack.web.base_url)
    subject = f"Flash {uuid.uuid4().hex[:8]}"
    expected = set(population.expected)

    created = send(web, population, subject)
    assert created["total"] == len(expected)
    wait_until(
        lambda: len(received(news_stack, subject)) >= 40,
        timeout=60,
        what="the newsletter to be well under way",
        interval=0.2,
    )
    victim = news_stack.workers[1]
    victim.kill()
    killed_after = len(received(news_stack, subject))
    assert killed_after < len(expected), "the newsletter was done before the kill: no fault"

    progress = completed(web, population, created["id"])
    assert (progress["sent"], progress["failed"]) == (len(expected), 0)
    # Every chunk has reported, so every send has happened: a second copy would be here.
    recipients = Counter(r for mail in received(news_stack, subject) for r in mail["rcpt_tos"])
    twice = sorted(r for r, n in recipients.items() if n > 1)
    assert twice == [], f"second copies after a SIGKILL at {killed_after}: {twice}"
    assert set(recipients) == expected
