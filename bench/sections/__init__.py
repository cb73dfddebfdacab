"""The benchmark sections. Each returns its repetitions; ``bench.figures`` turns them into figures.

Fairness: every section interleaves its variants within each repetition (A,
B, C, then B, C, A, ...) so that a noisy neighbour slows all of them alike,
and no measured window overlaps another process's start-up or shutdown:
processes are started together, ahead of the measurements, and every
section waits until they are ready *and* idle (``processes.wait_quiet``:
their CPU time polled from ``/proc``; it also waits for the exit of whatever
an earlier section stopped) before its first measured window.

What keeps the run short (``run.py`` prints where the time went):

* **consume and scaling** start every consumer they compare once and keep
  it paused between its runs (``consumers``).
* **latency and http** share one set of gunicorn servers and one relay
  (``web_servers``), booted while the publish section seeds its rows.
* Waits are conditions polled for (every event handled, the relay caught up,
  the processes idle), not fixed sleeps.
"""

from bench.sections.consume import consume
from bench.sections.context import CONFIGS, FULL, QUICK, SMOKE, Config, Context
from bench.sections.http_and_middleware import http_and_middleware
from bench.sections.isolation import isolation
from bench.sections.latency import latency
from bench.sections.publish import publish
from bench.sections.scaling import scaling
from bench.sections.setup import prepare, start_migrate
from bench.sections.web_servers import HTTP_WEB, LATENCY_WEB, stop_web

__all__ = [
    "CONFIGS",
    "FULL",
    "HTTP_WEB",
    "LATENCY_WEB",
    "QUICK",
    "SMOKE",
    "Config",
    "Context",
    "consume",
    "http_and_middleware",
    "isolation",
    "latency",
    "prepare",
    "publish",
    "scaling",
    "start_migrate",
    "stop_web",
]
