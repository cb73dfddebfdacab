"""A TCP proxy in front of the local PostgreSQL, for outages a test controls.

The machine's PostgreSQL serves other tests and people: it is never restarted.
Instead a service under test connects through this proxy, and the test
breaks the proxy the way an outage breaks the network path:

* ``restart()``: every connection is cut and new ones are refused for a while,
  then accepted again (a restart, a failover);
* ``down()`` / ``up()``: refused until told otherwise (a database down at start);
* ``freeze()`` / ``thaw()``: connections stay open but nothing moves, and new
  ones are accepted by the kernel but never answered (``docker pause``).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from types import TracebackType

_CHUNK = 65536


class DatabaseProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``, until told to fail."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._frozen = threading.Event()
        self._closing = threading.Event()
        self.connections = 0  # accepted so far

    def __enter__(self) -> DatabaseProxy:
        self.up()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing.set()
        self.down()

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def up(self) -> None:
        """Accept connections (again), on the same port."""
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Cut every connection and refuse new ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restart(self, seconds: float) -> None:
        """Cut everything, refuse for ``seconds``, then accept again."""
        self.down()
        time.sleep(seconds)
        self.up()

    def freeze(self) -> None:
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            while self._frozen.is_set() and not self._closing.is_set():
                time.sleep(0.05)  # accepted by the kernel, never answered
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    client.close()
                    server.close()
                    return
                self._pairs.append((client, server))
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        try:
            while True:
                if self._frozen.is_set():
                    time.sleep(0.05)  # the server is frozen: nothing moves either way
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(_CHUNK)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return  # cut by down(), or the peer went
        finally:
            with self._lock:
                if (client, server) in self._pairs:
                    self._pairs.remove((client, server))
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
