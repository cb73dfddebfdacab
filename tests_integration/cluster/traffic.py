"""Registrations streamed over HTTP at a steady pace, spread over several web containers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import requests

from ..support.polling import wait_until


class RegistrationStream:
    """``count`` registrations at ``domain``, ``per_second`` at most, request n to web n mod k.

    Runs in the background from ``start()``; the test injects its fault while
    it runs and waits on ``wait_answered``. Every request's answer is kept:
    a status code, or the name of the exception when none came.
    """

    def __init__(
        self, base_urls: list[str], domain: str, *, count: int, per_second: float, threads: int = 4
    ) -> None:
        self.base_urls = base_urls
        self.domain = domain
        self.count = count
        self.per_second = per_second
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="register")
        self._futures: list[Future[int | str]] = []
        self._sessions = threading.local()
        self._answered = 0
        self._lock = threading.Lock()
        self._began = 0.0

    def start(self) -> RegistrationStream:
        self._began = time.monotonic()
        self._futures = [self._pool.submit(self._register, n) for n in range(self.count)]
        return self

    @property
    def answered(self) -> int:
        with self._lock:
            return self._answered

    def wait_answered(self, count: int, *, timeout: float = 300) -> None:
        wait_until(
            lambda: self.answered >= count,
            timeout=timeout,
            what=f"{count} of {self.count} registrations to be answered",
        )

    def finish(self, *, timeout: float = 600) -> Counter[int | str]:
        """Wait for every answer; the statuses (or exception names) counted."""
        deadline = time.monotonic() + timeout
        answers: Counter[int | str] = Counter()
        try:
            for future in self._futures:
                answers[future.result(timeout=max(0.0, deadline - time.monotonic()))] += 1
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
        return answers

    def per_web(self) -> Counter[str]:
        """How many requests went to each web container."""
        return Counter(self.base_urls[n % len(self.base_urls)] for n in range(self.count))

    def _register(self, number: int) -> int | str:
        # Pacing, not waiting for a condition: request n leaves at n / per_second.
        delay = self._began + number / self.per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        url = f"{self.base_urls[number % len(self.base_urls)]}/api/users"
        try:
            response = session.post(
                url,
                json={"email": f"user{number}@{self.domain}", "password": "correct-horse-9"},
                timeout=30,
            )
            answer: int | str = response.status_code
        except requests.RequestException as exc:
            answer = type(exc).__name__
        with self._lock:
            self._answered += 1
        return answer
