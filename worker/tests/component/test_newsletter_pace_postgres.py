"""The newsletter pace and recipient claims on PostgreSQL, shared by several engines at once."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from courier_worker.newsletter_store import NewsletterStore
from courier_worker.pacing import SendPace
from courier_worker.store import make_engine

from tests.component.test_store_postgres import database_url

pytestmark = [pytest.mark.component, pytest.mark.timeout(60)]

__all__ = ["database_url"]  # the fixture: a throwaway PostgreSQL database


def test_six_senders_on_their_own_engines_are_spaced_by_the_rate(database_url: str) -> None:
    # Six engines stand for six worker processes (in three containers).
    stores = [NewsletterStore(make_engine(database_url)) for _ in range(6)]
    rate, per_sender = 40.0, 8
    sent_at: list[float] = []
    lock = threading.Lock()

    def sender(store: NewsletterStore) -> None:
        pace = SendPace(store, "component", per_second=rate)
        for _ in range(per_sender):
            with pace.ticket().turn(), lock:
                sent_at.append(time.monotonic())  # "the send"

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            list(pool.map(sender, stores))
    finally:
        for store in stores:
            store.engine.dispose()

    sent_at.sort()
    total = len(sent_at)
    assert total == 6 * per_sender
    # 48 sends at 40/s: the first is due at once, the last 47 intervals later.
    assert sent_at[-1] - sent_at[0] >= (total - 1) / rate - 0.05
    # One turn at a time through the row lock, the next one interval after the last
    # send really happened: spacing measured at the sends themselves.
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) >= 1 / rate - 0.002, min(gaps)
    busiest = max(sum(1 for t in sent_at if start <= t < start + 1.0) for start in sent_at)
    assert busiest <= rate + 1


def test_a_recipient_claimed_by_a_concurrent_delivery_is_decided_once(database_url: str) -> None:
    store = NewsletterStore(make_engine(database_url))
    other = NewsletterStore(make_engine(database_url))
    newsletter_id = uuid.uuid4()
    holding, outcome_seen = threading.Event(), []

    def second_delivery() -> None:
        holding.wait(5)
        # Waits on the first claim's open transaction, then finds its outcome.
        with other.claim(newsletter_id, 1) as claim:
            outcome_seen.append(claim)

    try:
        thread = threading.Thread(target=second_delivery)
        thread.start()
        with store.claim(newsletter_id, 1) as claim:
            assert claim is not None
            holding.set()
            time.sleep(0.3)  # the "send"
            claim.record("sent")
        thread.join(10)
        assert outcome_seen == [None]
        assert other.outcomes(newsletter_id, [1]) == {1: "sent"}
    finally:
        store.engine.dispose()
        other.engine.dispose()
