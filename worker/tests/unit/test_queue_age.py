"""Marker bookkeeping: the reported age is never above the truth, at most one interval below."""

from __future__ import annotations

import random

import pytest
from courier_worker.queue_age import MarkerBook

INTERVAL = 15.0


def test_no_marker_outstanding_reads_zero() -> None:
    book = MarkerBook()
    assert book.oldest_age(now=100.0) == 0.0


def test_age_is_that_of_the_oldest_unanswered_marker() -> None:
    book = MarkerBook()
    book.published(1, at=100.0)
    book.published(2, at=115.0)

    assert book.oldest_age(now=130.0) == 30.0
    book.answered(1)
    assert book.oldest_age(now=130.0) == 15.0
    book.answered(2)
    assert book.oldest_age(now=130.0) == 0.0


def test_an_answer_retires_every_older_marker_too() -> None:
    """FIFO: a marker that left the queue was behind every older one, so those left too."""
    book = MarkerBook()
    for sequence in range(1, 5):
        book.published(sequence, at=100.0 + sequence)

    book.answered(3)  # the answers to 1 and 2 were lost

    assert book.outstanding == 1
    assert book.oldest_age(now=110.0) == pytest.approx(6.0)


def test_answers_of_unknown_or_repeated_markers_change_nothing() -> None:
    book = MarkerBook()
    book.published(5, at=100.0)
    book.answered(4)
    book.answered(4)
    assert book.outstanding == 1
    assert book.next_sequence() == 6


def test_an_empty_queue_retires_markers_whose_answers_were_lost() -> None:
    book = MarkerBook()
    book.published(1, at=100.0)
    book.published(2, at=115.0)

    book.observed_ready(0, at=120.0)

    assert book.oldest_age(now=200.0) == 0.0


def test_only_the_newest_markers_can_still_be_ready() -> None:
    book = MarkerBook()
    for sequence, at in enumerate((100.0, 115.0, 130.0), start=1):
        book.published(sequence, at=at)

    book.observed_ready(2, at=131.0)  # two messages ready: at most markers 2 and 3

    assert book.oldest_age(now=140.0) == 25.0


def test_markers_published_after_the_observation_are_kept() -> None:
    book = MarkerBook()
    book.published(1, at=100.0)
    book.published(2, at=120.0)

    book.observed_ready(0, at=110.0)  # marker 2 was published after the broker answered

    assert book.oldest_age(now=130.0) == 10.0


def test_a_full_book_says_so_and_keeps_its_oldest_marker() -> None:
    book = MarkerBook(max_outstanding=2)
    book.published(1, at=100.0)
    book.published(2, at=115.0)
    assert book.full
    assert book.oldest_age(now=1000.0) == 900.0


@pytest.mark.parametrize("seed", range(20))
def test_against_a_simulated_fifo_queue(seed: int) -> None:
    """A queue with real messages and markers, consumed in bursts: the bound holds throughout."""
    rng = random.Random(seed)
    book = MarkerBook()
    queue: list[tuple[str, int, float]] = []  # (kind, marker sequence, enqueued at)
    next_marker_at, sequence = 0.0, 0
    for step in range(2000):
        now = step * 1.0
        if now >= next_marker_at:
            sequence += 1
            queue.append(("marker", sequence, now))
            book.published(sequence, at=now)
            next_marker_at = now + INTERVAL
        for _ in range(rng.choice((0, 0, 1, 3))):
            queue.append(("message", 0, now))
        # The consumer stalls for long stretches, then drains fast.
        stalled = (step // 300) % 2 == 1
        for _ in range(0 if stalled else rng.choice((0, 2, 6))):
            if queue:
                kind, number, _ = queue.pop(0)
                if kind == "marker":
                    book.answered(number)
        if rng.random() < 0.1:
            book.observed_ready(len(queue), at=now + 0.5)
        truth = now - queue[0][2] if queue else 0.0
        reported = book.oldest_age(now)
        assert reported <= truth + 1e-9, (step, reported, truth)
        assert truth - reported <= INTERVAL, (step, reported, truth)
