"""What every section shares: the run's sizes (``Config``) and its resources (``Context``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench.cleanup import Cleanup
from bench.processes import Proc, base_env

MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"

T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    #: ``full``, ``quick`` or ``smoke`` (``python -m bench --quick`` / ``--smoke``).
    name: str
    #: A short run, not for quoting: its figures are single, start-up dominated
    #: runs; the extras measured once (the threads pool) are skipped.
    quick: bool
    reps: int
    publish_count: int
    consume_count: int
    concurrency: int
    latency_rate: float
    latency_seconds: float
    http_seconds: float
    #: Discarded lead-in of every http run (the servers were warmed once before).
    http_warmup: float
    http_threads: int
    scaling_seconds: float
    #: Latency: the discarded warm-up at the offered rate, per variant.
    warmup_seconds: float = 3.0
    io_wait_ms: float = 20.0
    #: The publish variants that wait for a confirm per message (Celery's
    #: confirmed send_task, ~1,400 msg/s here, and the per-message-confirm extra)
    #: send the first N of the section's messages; their rates are computed on those N.
    publish_subset: int = 3_000
    #: http: one discarded warm-up per server and request kind, before the repetitions.
    http_prewarm: float = 0.5
    #: Sync workers per gunicorn server (``infra/`` deploys 2).
    web_workers: int = 2
    #: isolation: seconds of registrations measured idle, then under the backlog.
    isolation_seconds: float = 8.0
    #: isolation: newsletter emails queued on the bulk queue (chunks of 100).
    isolation_backlog: int = 5_000
    #: isolation: the workers' NEWSLETTER_RATE_LIMIT (emails/s), a provider's usual
    #: order of magnitude; the backlog must outlast the measurement (5,000 at 50/s: 100 s).
    isolation_rate_limit: float = 50.0
    #: isolation: registrations per second, within what one worker of ``concurrency``
    #: handles with their audit events, so that "idle" is idle.
    isolation_offered_rate: float = 20.0


#: The full run: every figure the median of 3 repetitions. Latency offers 50/s
#: for 30 s per variant, as 3 repetitions of 10 s.
FULL = Config(
    name="full",
    quick=False,
    reps=3,
    publish_count=10_000,
    consume_count=10_000,
    concurrency=2,
    latency_rate=50.0,
    latency_seconds=10.0,
    http_seconds=2.0,
    http_warmup=0.1,
    http_threads=4,
    scaling_seconds=1.5,
    warmup_seconds=1.0,
)
#: Under a minute: one repetition of each figure, small sizes.
QUICK = Config(
    name="quick",
    quick=True,
    reps=1,
    publish_count=1_000,
    consume_count=1_000,
    concurrency=2,
    latency_rate=50.0,
    latency_seconds=1.0,
    http_seconds=0.6,
    http_warmup=0.1,
    http_threads=4,
    scaling_seconds=0.6,
    warmup_seconds=0.5,
    publish_subset=500,
    http_prewarm=0.2,
    isolation_seconds=1.0,
    isolation_backlog=1_000,
)
#: The smoke test's run (``bench/tests``): every section starts and reports, a
#: few dozen messages and windows of ~0.2 s; its figures mean nothing.
SMOKE = Config(
    name="smoke",
    quick=True,
    reps=1,
    publish_count=60,
    consume_count=60,
    # One process per consumer and web server: fewer start-ups, same code paths.
    concurrency=1,
    latency_rate=50.0,
    latency_seconds=0.2,
    http_seconds=0.2,
    http_warmup=0.05,
    http_threads=2,
    scaling_seconds=0.2,
    warmup_seconds=0.2,
    io_wait_ms=5.0,
    publish_subset=20,
    http_prewarm=0.5,
    web_workers=1,
    isolation_seconds=0.2,
    isolation_backlog=200,
    isolation_rate_limit=100.0,
)
CONFIGS = {config.name: config for config in (FULL, QUICK, SMOKE)}


@dataclass
class Context:
    """One run's sizes, clean-up stack, temp dir, vhosts, databases and long-lived servers."""

    config: Config
    cleanup: Cleanup
    tmp: Path
    url: str  # the run's vhost
    web_db: str
    worker_db: str
    run_id: str
    #: ``OUTBOX_DISPATCH`` of the measured web and relay (``--dispatch``): ``auto``
    #: is the deployed default (``notify`` on this PostgreSQL).
    dispatch: str = "auto"
    #: More vhosts of this run (URLs), each with the worker's queues: one per
    #: consumer that consume and scaling keep alive at the same time.
    spare_urls: list[str] = field(default_factory=list)
    #: Every gunicorn configuration (``WEB_SETTINGS``) the selected sections
    #: need, started together by the first ``web_stack`` call.
    web_kinds: tuple[str, ...] = ()
    web: dict[str, tuple[Proc, int]] = field(default_factory=dict)
    relay: Proc | None = None

    def vhost_urls(self, count: int) -> list[str]:
        """This run's vhost, then spare ones: ``count`` vhosts with the worker's queues."""
        urls = [self.url, *self.spare_urls]
        if len(urls) < count:
            raise RuntimeError(f"{count} vhosts needed, {len(urls)} created")
        return urls[:count]

    def web_env(
        self, settings: str = "courier_web.config.settings.base", **extra: str
    ) -> dict[str, str]:
        values = {
            "DJANGO_SETTINGS_MODULE": settings,
            "DATABASE_URL": self.web_db,
            # Persistent connections, as a production deployment would set them;
            # without them every request pays a PostgreSQL connect (stricter test).
            "DATABASE_CONN_MAX_AGE": "60",
            "RABBITMQ_URL": self.url,
            "COURIER_WEB_HOME": str(self.tmp / "web"),
            "DJANGO_PASSWORD_HASHERS": MD5,
            "API_RATE_LIMIT": "off",
            "LOG_LEVEL": "INFO",
            "OUTBOX_DISPATCH": self.dispatch,
        }
        return base_env(**{**values, **extra})

    def worker_env(self, **extra: str) -> dict[str, str]:
        values = {
            "RABBITMQ_URL": self.url,
            "WORKER_DATABASE_URL": self.worker_db,
            "COURIER_WORKER_HOME": str(self.tmp / "worker"),
            "WORKER_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
        }
        return base_env(**{**values, **extra})


def rotate(items: Sequence[T], rep: int) -> list[T]:
    """``items`` started at ``rep`` (mod their count): each repetition in another order."""
    k = rep % len(items)
    return [*items[k:], *items[:k]]


__all__ = ["CONFIGS", "FULL", "QUICK", "SMOKE", "Config", "Context", "rotate"]
