"""Hand-written fakes implementing the same interfaces as the real collaborators."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from shared_contracts import WireMessage

from courier_web.outbox.publisher import CONFIRMED, Outcome, PublishResult
from courier_web.outbox.publishing import outbox_publish_ids


class FakePublisher:
    """Records what it is asked to publish; answers with scripted outcomes, then confirms."""

    def __init__(self, outcomes: Iterable[PublishResult] = ()) -> None:
        self.outcomes: deque[PublishResult] = deque(outcomes)
        self.published: list[WireMessage] = []
        self.batches: list[int] = []  # the size of each publish_many call
        self.attempts = 0
        self.idles = 0
        self.closed = 0
        self.connect_errors: deque[str] = deque()

    def fail_next(self, times: int = 1, detail: str = "ConnectionRefusedError: down") -> None:
        self.outcomes.extend(PublishResult(Outcome.FAILED, detail) for _ in range(times))

    def return_next(self, detail: str = "unroutable: 312 NO_ROUTE") -> None:
        self.outcomes.append(PublishResult(Outcome.RETURNED, detail))

    def publish(self, message: WireMessage) -> PublishResult:
        self.attempts += 1
        result = self.outcomes.popleft() if self.outcomes else CONFIRMED
        if result.outcome is Outcome.CONFIRMED:
            self.published.append(message)
        return result

    def publish_many(self, messages: Sequence[WireMessage]) -> list[PublishResult]:
        """Like the real one: after a failure (connection gone) the rest stays unconfirmed."""
        self.batches.append(len(messages))
        results: list[PublishResult] = []
        for message in messages:
            if results and results[-1].outcome is Outcome.FAILED:
                results.append(results[-1])
                continue
            results.append(self.publish(message))
        return results

    def refuse_connections(self, times: int = 1, detail: str = "AMQPConnectionError") -> None:
        self.connect_errors.extend(detail for _ in range(times))

    def connect(self) -> str | None:
        return self.connect_errors.popleft() if self.connect_errors else None

    def idle(self) -> None:
        self.idles += 1

    def close(self) -> None:
        self.closed += 1


class InlineDispatcher:
    """Publishes a committed row at once, in the committing thread."""

    def __init__(self, publisher: FakePublisher) -> None:
        self.publisher = publisher
        self.submitted: list[int] = []

    def submit(self, row_id: int) -> None:
        self.submitted.append(row_id)
        outbox_publish_ids(ids=[row_id], publisher=self.publisher)
