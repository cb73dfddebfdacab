from __future__ import annotations

from courier_web.outbox.backoff import Backoff, CircuitBreaker


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    highest = Backoff(initial=0.5, maximum=4.0, rng=lambda: 1.0)
    lowest = Backoff(initial=0.5, maximum=4.0, rng=lambda: 0.0)

    assert [highest.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [lowest.next_delay() for _ in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]


def test_backoff_reset_starts_over() -> None:
    backoff = Backoff(initial=1.0, maximum=60.0, rng=lambda: 1.0)
    for _ in range(5):
        backoff.next_delay()

    backoff.reset()

    assert backoff.next_delay() == 1.0


def test_circuit_breaker_refuses_attempts_until_its_backoff_has_passed() -> None:
    now = [100.0]
    breaker = CircuitBreaker(
        Backoff(initial=2.0, maximum=8.0, rng=lambda: 1.0), clock=lambda: now[0]
    )
    assert breaker.allow()

    assert breaker.record_failure() == 2.0
    assert not breaker.allow()
    now[0] += 2.0
    assert breaker.allow()

    assert breaker.record_failure() == 4.0
    now[0] += 3.9
    assert not breaker.allow()

    breaker.record_success()
    assert breaker.allow()
    assert breaker.record_failure() == 2.0
