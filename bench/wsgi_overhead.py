"""The middleware stack's CPU per request, in-process: ``python -m bench.wsgi_overhead``.

Calls the WSGI application directly (no server, no sockets, no load generator)
for ``GET /healthz``, once with the full settings and once with no middleware,
each in its own process, and prints the best-of-3 process CPU time per
request. Their difference is what the stack costs a request; the ``middleware``
figure of ``make bench`` measures the same thing under gunicorn, where the
server and the load generator share the cores and blur it.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable

SETTINGS = {
    "full": "courier_web.config.settings.base",
    "bare": "bench.web.settings_bare",
}


def _measure(requests: int) -> float:
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()

    def environ() -> dict[str, object]:
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/healthz",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1",
        }

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        return len  # the write() callable of PEP 3333: nothing calls it here

    def one() -> None:
        response = app(environ(), start_response)
        b"".join(response)
        response.close()

    for _ in range(500):
        one()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(requests):
            one()
        best = min(best, (time.process_time() - started) / requests)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wsgi_overhead")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--child", choices=list(SETTINGS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(f"{_measure(args.requests):.1f}")
        return
    results = {}
    for name, module in SETTINGS.items():
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": module, "LOG_LEVEL": "INFO"}
        env.setdefault("API_RATE_LIMIT", "off")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.wsgi_overhead",
                "--child",
                name,
                "--requests",
                str(args.requests),
            ],
            env=env,
            capture_output=True,  # the access-log lines go to stdout: only the last line counts
            text=True,
            check=True,
            timeout=600,
        )
        results[name] = float(done.stdout.strip().splitlines()[-1])
    for name, value in results.items():
        print(f"{name:5s} {value:7.1f} us CPU per GET /healthz")
    print(f"stack {results['full'] - results['bare']:7.1f} us per request")


if __name__ == "__main__":
    main()
