"""A small, bounded HTTP load generator: threads, raw sockets or ``http.client``, 127.0.0.1 only.

Pure standard library (no wrk), so it runs wherever the venv does. It shares
the machine's cores with the server it measures; the sections compare two
server configurations under the same generator, so the ratios hold.

* ``closed_loop``: ``threads`` clients, each sending its next request (on a
  new connection, read with a minimal client) as soon as the previous answer
  arrived, for ``seconds`` after a warm-up; bounded by ``max_requests`` too.
  Returns completed 2xx requests per second.
* ``open_loop``: requests scheduled at a fixed rate (request *i* at
  ``start + i / rate``) whatever the answers do, spread over a pool of
  connections; returns, per request, its id and the wall-clock time its
  response was fully read.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"

#: (method, path, body, headers) of the next request of one thread.
RequestFactory = Callable[[int, int], tuple[str, str, bytes | None, dict[str, str]]]


@dataclass
class ClosedLoopResult:
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def _connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, port, timeout=10)


def _raw_request(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 request with ``Connection: close``, as bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def _exchange(port: int, request: bytes) -> int:
    """Send ``request`` on a new connection, read the answer to its end; its status (0: failed).

    The closed loop's client: it reads the status line and nothing else, so
    the load generator, on the same cores as the server, spends as little as
    it can per request (``http.client`` parsed every header in Python: as much
    CPU per ``GET /healthz`` as the middleware stack being measured). Every
    request is on its own connection, as gunicorn's sync workers close
    each one anyway.
    """
    try:
        with socket.create_connection((HOST, port), timeout=10) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return 0
    head = b"".join(chunks[:1])[:32].split(b" ", 2)
    if len(head) < 2 or not head[0].startswith(b"HTTP/") or not head[1].isdigit():
        return 0
    return int(head[1])


def closed_loop(
    port: int,
    make_request: RequestFactory,
    *,
    threads: int,
    seconds: float,
    warmup: float,
    max_requests: int = 1_000_000,
) -> ClosedLoopResult:
    lock = threading.Lock()
    result = ClosedLoopResult()
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    sent = [0]

    def worker(thread: int) -> None:
        i = 0
        while True:
            now = time.monotonic()
            with lock:
                if now >= stop_at or sent[0] >= max_requests:
                    return
                sent[0] += 1
            status = _exchange(port, _raw_request(*make_request(thread, i)))
            i += 1
            done = time.monotonic()
            if measure_from <= done < stop_at:
                with lock:
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    if 200 <= status < 300:
                        result.ok += 1
                    else:
                        result.errors += 1

    pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(warmup + seconds + 30)
    result.seconds = seconds
    return result


@dataclass
class Sample:
    index: int
    status: int
    scheduled: float  # wall clock
    responded: float  # wall clock, response fully read


def open_loop(
    port: int,
    make_request: RequestFactory,
    *,
    rate: float,
    seconds: float,
    threads: int = 16,
) -> list[Sample]:
    total = round(rate * seconds)
    lock = threading.Lock()
    next_index = [0]
    samples: list[Sample] = []
    wall0 = time.time() + 0.2
    mono0 = time.monotonic() + 0.2
    give_up = mono0 + seconds + 30  # every loop is bounded in time too

    def worker(thread: int) -> None:
        conn = _connect(port)
        try:
            while True:
                with lock:
                    index = next_index[0]
                    if index >= total:
                        return
                    next_index[0] += 1
                due = mono0 + index / rate
                if (pause := due - time.monotonic()) > 0:
                    time.sleep(pause)
                if time.monotonic() > give_up:
                    return
                method, path, body, headers = make_request(thread, index)
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    status = 0
                    conn.close()
                    conn = _connect(port)
                responded = time.time()
                with lock:
                    samples.append(Sample(index, status, wall0 + index / rate, responded))
        finally:
            conn.close()

    pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 60)
    return sorted(samples, key=lambda s: s.index)
