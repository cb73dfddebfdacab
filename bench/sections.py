"""The benchmark sections. Each returns its repetitions; ``run.py`` turns them into figures.

Fairness: every section interleaves its variants within each repetition (A,
B, C, then B, C, A, ...) so that a noisy neighbour slows all of them alike,
and no measured window overlaps another process's start-up or shutdown:
processes are started together, ahead of the measurements, and every
section waits until they are ready *and* idle (``infra.wait_quiet``: their
CPU time polled from ``/proc``; it also waits for the exit of whatever an
earlier section stopped) before its first measured window.

What keeps the run short (``run.py`` prints where the time went):

* **consume and scaling** start every consumer they compare once, each on a
  vhost of its own with an identical copy of the worker's queues (a paused
  consumer still subscribed to a queue is handed prefetched messages, so two
  never share one), and keep it SIGSTOPped between its runs. A run fills that
  consumer's queue (confirmed publishes), resumes it, measures the drain,
  waits until every event is handled and the consumer is idle again, and
  pauses it: a paused process uses no CPU, so only the measured consumer
  runs. It resumes with its prefetch window already full, so its window
  starts and ends in steady state (its start-up excluded, as before). A
  consumer stays paused for the other variants' runs of one repetition at
  most, well within the broker's 60 s heartbeat.
* **latency and http** share one set of gunicorn servers and one relay: the
  servers boot while the publish section seeds its rows (one core), and the
  base-settings server is both latency's Courier web and http's "events on"
  and "full stack" server.
* Waits are conditions polled for (every event handled, the relay caught up,
  the processes idle), not fixed sleeps.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import infra, loadgen
from bench.infra import BIN, PYTHON, Cleanup, Proc, phase, say

BULK = "courier.worker.bulk"
CRITICAL = "courier.worker.critical"
MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"


@dataclass(frozen=True)
class Config:
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


#: The full run: every figure the median of 3 repetitions. Latency offers 50/s
#: for 30 s per variant, as 3 repetitions of 10 s.
FULL = Config(
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
#: A smoke run under a minute: one repetition of each figure, small sizes.
QUICK = Config(
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
)


@dataclass
class Context:
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

    def web_env(self, settings: str = "courier_web.config.settings.base", **extra: str):
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
        return infra.base_env(**{**values, **extra})

    def worker_env(self, **extra: str) -> dict[str, str]:
        values = {
            "RABBITMQ_URL": self.url,
            "WORKER_DATABASE_URL": self.worker_db,
            "COURIER_WORKER_HOME": str(self.tmp / "worker"),
            "WORKER_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
        }
        return infra.base_env(**{**values, **extra})


def rotate(items: list[Any], rep: int) -> list[Any]:
    k = rep % len(items)
    return items[k:] + items[:k]


# ------------------------------------------------------------------ setup


def start_migrate(ctx: Context) -> subprocess.Popen[bytes]:
    """Migrate the web database in the background (``prepare`` waits for it)."""
    env = ctx.web_env(LOG_LEVEL="WARNING")
    argv = [str(BIN / "courier-web"), "migrate", "--noinput", "-v", "0"]
    return subprocess.Popen(argv, env=env, cwd=infra.ROOT)


def prepare(ctx: Context, migrate: subprocess.Popen[bytes] | None = None) -> None:
    """The web database migrated, the worker's table created, the queues declared in
    every vhost of the run (which must exist by now)."""
    say("setup: migrating the web database, creating the worker's table, declaring queues")
    if migrate is None:
        migrate = start_migrate(ctx)
    try:
        subprocess.run(
            [str(BIN / "courier-worker"), "init-db"],
            env=ctx.worker_env(),
            check=True,
            timeout=60,
            cwd=infra.ROOT,
            capture_output=True,
        )
        for url in [ctx.url, *ctx.spare_urls]:
            infra.declare_worker_queues(url)
        if migrate.wait(timeout=180) != 0:
            raise RuntimeError(f"migrate exited with {migrate.returncode}")
    finally:
        if migrate.poll() is None:
            migrate.kill()
            migrate.wait(10)


# ---------------------------------------------------------------- publish


def publish(ctx: Context) -> dict[str, list[float]]:
    cfg = ctx.config
    out, go = ctx.tmp / "publish.json", ctx.tmp / "publish.go"
    env = ctx.web_env(OUTBOX_DISPATCH="off", LOG_LEVEL="WARNING")
    say(f"publish: {cfg.publish_count} events x {cfg.reps} reps (relay, raw pika, celery)")
    proc = infra.start(
        ctx.cleanup,
        "publish",
        [
            str(PYTHON),
            "-m",
            "bench.scenarios.publish",
            "--count",
            str(cfg.publish_count),
            "--reps",
            str(cfg.reps),
            "--subset",
            str(min(cfg.publish_subset, cfg.publish_count)),
            "--out",
            str(out),
            "--go",
            str(go),
        ],
        env,
        ctx.tmp,
        echo=True,
    )
    # It seeds first (one core): meanwhile the web servers the later sections
    # need boot (``start_web``). It measures once they answer and are idle.
    start_web(ctx)
    web_answering(ctx)
    go.touch()
    try:
        proc.popen.wait(timeout=60 + cfg.reps * cfg.publish_count * 0.02)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"publish scenario timed out:\n{proc.tail()}") from None
    if proc.popen.returncode != 0:
        raise RuntimeError(f"publish scenario failed:\n{proc.tail(40)}")
    data = json.loads(out.read_text())
    infra.sql(ctx.web_db, "DELETE FROM outbox_outboxmessage")
    for what, seconds in data.get("timing", {}).items():
        infra.TIMINGS[f"publish/{what}"] = seconds
    counts = data.get("counts", {})
    return {
        name: [counts.get(name, data["count"]) / s for s in seconds]
        for name, seconds in data["seconds"].items()
    }


# ---------------------------------------------------------------- consume


def _celery_worker(
    ctx: Context,
    name: str,
    app: str,
    *,
    concurrency: int,
    pool: str = "prefork",
    env: dict[str, str] | None = None,
    queues: str | None = None,
) -> Proc:
    argv = [
        str(BIN / "celery"),
        "-A",
        app,
        "worker",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "WARNING",
        "-n",
        f"{name}-{uuid.uuid4().hex[:6]}@bench",
    ]
    if queues:
        argv += ["-Q", queues]
    return infra.start(ctx.cleanup, name, argv, env or ctx.worker_env(), ctx.tmp)


def _handled_count(ctx: Context) -> int:
    return int(infra.sql(ctx.worker_db, "SELECT count(*) FROM handled_events")[0][0])


def _drain(ctx: Context, url: str, procs: list[Proc], count: int, timeout: float) -> float:
    try:
        return infra.measure_drain(url, BULK, count, timeout)
    except RuntimeError as exc:
        tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in procs)
        raise RuntimeError(f"{exc}\n{tails}") from None


@dataclass
class Held:
    """A consumer kept alive for a whole section on a vhost of its own, paused between runs."""

    name: str
    url: str  # its vhost: nobody else consumes its queues
    procs: list[Proc]
    consumers: int  # its consumers on BULK once it is up
    prefetch: int  # messages the broker may hand it while it is paused
    #: The Courier app: every event handled leaves a row in ``handled_events``.
    records: bool = False


def _hold(ctx: Context, section: str, held: Sequence[Held]) -> None:
    """Wait until every consumer is subscribed and the start-ups are over, then pause them all."""
    procs = [p for h in held for p in h.procs]
    web_answering(ctx)  # anything started ahead is idle too
    infra.reap()  # the previous consumers of these vhosts are gone
    for h in held:
        infra.wait_until(
            f"{h.name} consuming",
            lambda h=h: infra.queue_counts(h.url, BULK)[1] >= h.consumers,
            60,
            h.procs[0],
        )
    infra.wait_quiet(procs, f"the {section} consumers' start-up")
    for proc in procs:
        proc.pause()


def _run_held(section: str, ctx: Context, h: Held, messages: Sequence[Any], timeout: float):
    """Fill ``h``'s queue while it is paused, resume it, measure the drain, pause it again."""
    n = len(messages)
    with phase(f"{section}/fill"):
        infra.purge(h.url, BULK)  # empty already: every run ends with the queue drained
        infra.publish_confirmed(h.url, messages)
        ready = infra.wait_settled_count(h.url, BULK, n, h.prefetch)
        before = _handled_count(ctx) if h.records else 0
    for proc in h.procs:
        proc.resume()
    try:
        with phase(f"{section}/measured"):
            rate = _drain(ctx, h.url, h.procs, ready, timeout)
        with phase(f"{section}/finish"):
            if h.records:  # its last in-flight events too, before it is paused
                infra.wait_until(
                    f"every probe recorded as handled by {h.name}",
                    lambda: _handled_count(ctx) >= before + n,
                    30,
                    h.procs[0],
                )
            infra.wait_quiet(h.procs, f"{h.name} idle after its run")
    finally:
        for proc in h.procs:
            proc.pause()
    return rate


def consume(ctx: Context) -> tuple[dict[str, list[float]], dict[str, float]]:
    cfg = ctx.config
    n, c = cfg.consume_count, cfg.concurrency
    eps: dict[str, list[float]] = {"courier": [], "celery_noop": [], "kombu_raw": []}
    memory: dict[str, float] = {}
    urls = dict(zip(eps, ctx.vhost_urls(len(eps)), strict=True))
    prefetch = 4 * c  # Celery: multiplier 4 x processes; kombu: 4 per process
    with phase("consume/start"):
        held = {
            "courier": Held(
                "courier-worker",
                urls["courier"],
                [
                    _celery_worker(
                        ctx,
                        "courier-worker",
                        "courier_worker.celery_app:app",
                        concurrency=c,
                        env=ctx.worker_env(RABBITMQ_URL=urls["courier"]),
                    )
                ],
                1,
                prefetch,
                records=True,
            ),
            "celery_noop": Held(
                "celery-noop",
                urls["celery_noop"],
                [
                    _celery_worker(
                        ctx,
                        "celery-noop",
                        "bench.apps.noop_celery:app",
                        concurrency=c,
                        queues=BULK,
                        env=ctx.worker_env(RABBITMQ_URL=urls["celery_noop"]),
                    )
                ],
                1,
                prefetch,
            ),
            "kombu_raw": Held(
                "kombu-raw",
                urls["kombu_raw"],
                [
                    infra.start(
                        ctx.cleanup,
                        f"kombu-raw-{i}",
                        [str(PYTHON), "-m", "bench.apps.kombu_raw"],
                        ctx.worker_env(RABBITMQ_URL=urls["kombu_raw"], BENCH_PREFETCH="4"),
                        ctx.tmp,
                    )
                    for i in range(c)
                ],
                c,
                prefetch,
            ),
        }
        _hold(ctx, "consume", list(held.values()))
    try:
        for rep in range(cfg.reps):
            # The same n events for every variant of a repetition (only the
            # Courier worker records them; the next repetition's are new).
            with phase("consume/fill"):
                messages = infra.probes(n, f"c{rep}")
            for variant in rotate(list(eps), rep):
                h = held[variant]
                rate = _run_held("consume", ctx, h, messages, timeout=60 + n / 50)
                if variant == "courier":
                    dead, _ = infra.queue_counts(h.url, f"{BULK}.dead-letter")
                    if dead:
                        raise RuntimeError(f"{dead} probes were dead-lettered")
                    main = h.procs[0].pid
                    kids = infra.children(main)
                    memory = {
                        "worker_main_process": infra.rss_mb(main),
                        "worker_process": max(infra.rss_mb(k) for k in kids) if kids else 0.0,
                    }
                eps[variant].append(rate)
                say(f"consume rep {rep + 1}/{cfg.reps} {variant}: {rate:,.0f} events/s")
    finally:
        infra.retire([p for h in held.values() for p in h.procs])
    return eps, memory


# ---------------------------------------------------------------- scaling


def scaling(ctx: Context) -> dict[str, list[float]]:
    cfg = ctx.config
    ideal_per_proc = 1000.0 / cfg.io_wait_ms
    configs = [("prefork", 1), ("prefork", 2), ("prefork", 4)]
    if not cfg.quick:  # extras for the pool-choice paragraph of docs/performance.md
        configs += [("threads", 4), ("threads", 8)]
    eps: dict[str, list[float]] = {f"{p}:{c}": [] for p, c in configs}
    urls = dict(zip(configs, ctx.vhost_urls(len(configs)), strict=True))
    for url in urls.values():  # nothing left from earlier sections for the Courier app
        infra.purge(url, BULK, CRITICAL)
    with phase("scaling/start"):
        held = {
            (pool, procs): Held(
                f"io-{pool}-{procs}",
                urls[pool, procs],
                [
                    _celery_worker(
                        ctx,
                        f"io-{pool}-{procs}",
                        "bench.apps.io_worker:app",
                        concurrency=procs,
                        pool=pool,
                        env=ctx.worker_env(
                            BENCH_IO_WAIT_MS=str(cfg.io_wait_ms), RABBITMQ_URL=urls[pool, procs]
                        ),
                    )
                ],
                1,
                4 * procs,
                records=True,
            )
            for pool, procs in configs
        }
        _hold(ctx, "scaling", list(held.values()))
    try:
        for rep in range(cfg.reps):
            # The threads extras run once: they inform the pool-choice paragraph, no goal.
            planned = configs if rep == 0 else [c for c in configs if c[0] == "prefork"]
            for pool, procs in rotate(planned, rep):
                n = max(50, int(ideal_per_proc * procs * cfg.scaling_seconds))
                with phase("scaling/fill"):
                    messages = infra.probes(n, f"s{rep}{pool}{procs}")
                rate = _run_held("scaling", ctx, held[pool, procs], messages, timeout=60 + n / 10)
                eps[f"{pool}:{procs}"].append(rate)
                say(
                    f"scaling rep {rep + 1}/{cfg.reps} {pool} x{procs}: {rate:,.1f} events/s "
                    f"(ideal {ideal_per_proc * procs:,.0f})"
                )
    finally:
        infra.retire([p for h in held.values() for p in h.procs])
    return eps


# -------------------------------------------------------------- web servers


def gunicorn(ctx: Context, name: str, settings: str, **extra: str) -> tuple[Proc, int]:
    """The web service under gunicorn, configured as ``infra/`` deploys it (2 sync workers)."""
    port = infra.free_port()
    proc = infra.start(
        ctx.cleanup,
        name,
        [
            str(BIN / "gunicorn"),
            "courier_web.config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-tmp-dir",
            "/dev/shm",
            "--timeout",
            "30",
            "--log-level",
            "warning",
        ],
        ctx.web_env(settings, **extra),
        ctx.tmp,
    )
    return proc, port


def wait_http(proc: Proc, port: int) -> None:
    import http.client

    def ok() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    infra.wait_until(f"{proc.name} on :{port}", ok, 60, proc)


#: The gunicorn configurations of the latency and http sections, by name.
WEB_SETTINGS = {
    # The deployed stack: latency's Courier web, http's "events on" and "full stack".
    "base": "courier_web.config.settings.base",
    "naive": "bench.web.settings_naive",
    "events_off": "bench.web.settings_events_off",
    "bare": "courier_web.config.settings.bare",
}
LATENCY_WEB = ("base", "naive")
HTTP_WEB = ("base", "events_off", "bare")


def start_web(ctx: Context, kinds: Sequence[str] = ()) -> None:
    """Start the gunicorn servers ``kinds`` and ``ctx.web_kinds`` not running yet; no wait.

    The publish section calls it: the servers boot while its scenario seeds
    rows (they touch neither the database nor the broker until a request
    comes) and idle afterwards.
    """
    for kind in dict.fromkeys([*ctx.web_kinds, *kinds]):
        if kind not in ctx.web:
            ctx.web[kind] = gunicorn(ctx, f"web-{kind}", WEB_SETTINGS[kind])


def web_answering(ctx: Context) -> None:
    """Every server started so far answers, and every web process is idle."""
    for proc, port in ctx.web.values():
        wait_http(proc, port)
    if ctx.web or ctx.relay:
        infra.wait_quiet(_web_procs(ctx), "the web processes' start-up")


def web_stack(ctx: Context, kinds: Sequence[str]) -> dict[str, tuple[Proc, int]]:
    """The gunicorn servers ``kinds`` and the relay, running; each started once per run.

    The relay (``relay_outbox``, ``OUTBOX_DISPATCH`` as the web's) starts with
    the first section that needs it. The caller waits until they answer and
    are idle (``web_answering``) before measuring; ``stop_web`` ends them.
    """
    start_web(ctx, kinds)
    if ctx.relay is None:
        argv = [str(BIN / "courier-web"), "relay_outbox"]
        ctx.relay = infra.start(ctx.cleanup, "relay", argv, ctx.web_env(), ctx.tmp)
    return {kind: ctx.web[kind] for kind in kinds}


def _web_procs(ctx: Context) -> list[Proc]:
    return [proc for proc, _ in ctx.web.values()] + ([ctx.relay] if ctx.relay else [])


def _relay_caught_up(ctx: Context) -> None:
    unsent = "SELECT count(*) FROM outbox_outboxmessage WHERE status <> 'sent'"
    infra.wait_until(
        "the relay to publish every registration",
        lambda: int(infra.sql(ctx.web_db, unsent)[0][0]) == 0,
        60,
        ctx.relay,
    )


def stop_web(ctx: Context) -> None:
    """Stop the servers and the relay (once it has published every row); clear the outbox."""
    if ctx.relay is not None:
        _relay_caught_up(ctx)
    infra.retire(_web_procs(ctx))
    ctx.web.clear()
    ctx.relay = None
    infra.purge(ctx.url, CRITICAL)
    infra.sql(ctx.web_db, "DELETE FROM outbox_outboxmessage")


def _register(tag: str):
    def make(thread: int, i: int) -> tuple[str, str, bytes, dict[str, str]]:
        body = json.dumps(
            {
                "email": f"{tag}-{thread}-{i}@bench.example.com",
                "password": "correct-horse-battery-9",
            }
        ).encode()
        return "POST", "/api/users", body, {"content-type": "application/json"}

    return make


def _healthz(thread: int, i: int) -> tuple[str, str, None, dict[str, str]]:
    return "GET", "/healthz", None, {}


def _tagged(tag: str):
    """``_register`` with an ``X-Request-ID`` per request: the worker logs it as correlation_id."""
    register = _register(tag)

    def make(thread: int, i: int) -> tuple[str, str, bytes, dict[str, str]]:
        method, path, body, headers = register(thread, i)
        return method, path, body, {**headers, "X-Request-ID": f"{tag}x{i}"}

    return make


def http_and_middleware(ctx: Context) -> tuple[dict[str, list[float]], dict[str, float]]:
    """``POST /api/users`` events on/off, and ``GET /healthz`` full/bare, same gunicorn config.

    Eventing includes its publisher: on PostgreSQL that is the relay, woken by
    NOTIFY (OUTBOX_DISPATCH=auto -> notify), so it runs on the same cores
    throughout, for every variant alike. Each server is warmed once (its
    first requests discarded); every run then has a short discarded lead-in
    and its window; after a run that registered users on the eventing server
    the relay catches up before the next run, so its backlog loads no other
    measurement.
    """
    cfg = ctx.config
    with phase("http/start"):
        servers = web_stack(ctx, HTTP_WEB)
        web_answering(ctx)
    relay = ctx.relay
    assert relay is not None
    rps: dict[str, list[float]] = {
        "events_on": [],
        "events_off": [],
        "full": [],
        "bare": [],
        "events_on_relay_paused": [],
    }
    runs = [
        ("events_on", "base", "post"),
        # Extra: the request's own cost, with the relay paused (SIGSTOP) meanwhile.
        ("events_on_relay_paused", "base", "post"),
        ("events_off", "events_off", "post"),
        ("full", "base", "get"),
        ("bare", "bare", "get"),
    ]

    def load(figure: str, server: str, kind: str, tag: str, seconds: float, warmup: float):
        make = _register(tag) if kind == "post" else _healthz
        result = loadgen.closed_loop(
            servers[server][1], make, threads=cfg.http_threads, seconds=seconds, warmup=warmup
        )
        if result.errors or not result.ok:
            raise RuntimeError(f"{figure}: statuses {result.statuses}")
        return result

    with phase("http/warm-up"):
        for server, kind in dict.fromkeys((server, kind) for _, server, kind in runs):
            tag = f"{ctx.run_id}warm{server}"
            load(f"warm-up {server}", server, kind, tag, cfg.http_prewarm, 0)
        _relay_caught_up(ctx)
    for rep in range(cfg.reps):
        for figure, server, kind in rotate(runs, rep):
            paused = figure == "events_on_relay_paused"
            if paused:
                relay.pause()
            try:
                with phase("http/measured"):
                    tag = f"{ctx.run_id}{figure}{rep}"
                    result = load(figure, server, kind, tag, cfg.http_seconds, cfg.http_warmup)
            finally:
                if paused:
                    relay.resume()
            if server == "base" and kind == "post":  # its backlog must not load the next run
                with phase("http/relay catch-up"):
                    _relay_caught_up(ctx)
            rps[figure].append(result.rps)
            say(f"http rep {rep + 1}/{cfg.reps} {figure}: {result.rps:,.0f} req/s")
    master = servers["base"][0].pid
    workers = infra.children(master)
    memory = {
        "web_process": max(infra.rss_mb(w) for w in workers),
        "web_master_process": infra.rss_mb(master),
    }
    return rps, memory


# ---------------------------------------------------------------- latency


class _HandledLog:
    """The worker's ``event.handled`` lines, read as the log grows: correlation_id -> wall time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.found: dict[str, float] = {}

    def update(self) -> dict[str, float]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        end = data.rfind(b"\n") + 1  # complete lines only
        self.offset += end
        for line in data[:end].decode(errors="replace").splitlines():
            if '"event.handled"' not in line:
                continue
            record = json.loads(line)
            stamp = datetime.fromisoformat(record["timestamp"]).timestamp()
            self.found[record["correlation_id"]] = stamp
        return self.found


def latency(ctx: Context) -> dict[str, list[dict[str, float]]]:
    cfg = ctx.config
    with phase("latency/start"):
        worker = _celery_worker(
            ctx,
            "latency-worker",
            "courier_worker.celery_app:app",
            concurrency=cfg.concurrency,
            env=ctx.worker_env(LOG_LEVEL="INFO", MAIL_DIR=str(ctx.tmp / "mail")),
        )
        servers = web_stack(ctx, LATENCY_WEB)
        web_answering(ctx)  # reaps the previous section's consumers too
        infra.wait_until(
            "latency worker consuming",
            lambda: infra.queue_counts(ctx.url, CRITICAL)[1] > 0,
            60,
            worker,
        )
        infra.wait_quiet([worker, *_web_procs(ctx)], "the latency processes' start-up")
    results: dict[str, list[dict[str, float]]] = {"courier": [], "naive_delay": []}
    ports = {"courier": servers["base"][1], "naive_delay": servers["naive"][1]}
    log = _HandledLog(worker.log_path)

    def offer(variant: str, tag: str, seconds: float, what: str) -> tuple[float, list[float]]:
        """Register at the offered rate: (achieved rate, ms from each response to its
        ``event.handled``), once every event is handled."""
        with phase(f"latency/{what}"):
            samples = loadgen.open_loop(
                ports[variant], _tagged(tag), rate=cfg.latency_rate, seconds=seconds
            )
        bad = [s for s in samples if s.status != 201]
        if bad:
            raise RuntimeError(f"latency {variant}: {len(bad)} requests failed")
        wanted = {f"{tag}x{s.index}": s for s in samples}
        with phase("latency/wait handled"):
            infra.wait_until(
                f"{variant} events handled",
                lambda: all(key in log.update() for key in wanted),
                60,
                worker,
            )
        ms = [(log.found[key] - s.responded) * 1000 for key, s in wanted.items()]
        return len(samples) / (samples[-1].responded - samples[0].responded), ms

    # Warm-up at the offered rate, discarded: lazy connections (the relay's,
    # Celery's producer in the naive web) and the pool children's first events
    # would otherwise land in the first repetition's tail. Over once every
    # warm-up event is handled.
    for variant in ports:
        offer(variant, f"warm{ctx.run_id}{variant[0]}", cfg.warmup_seconds, "warm-up")
    from bench.report import percentile

    for rep in range(cfg.reps):
        for variant in rotate(list(results), rep):
            tag = f"lat{ctx.run_id}{variant[0]}{rep}"
            achieved_rate, ms = offer(variant, tag, cfg.latency_seconds, "measured")
            figure = {f"p{p}": percentile(ms, p) for p in (50, 95, 99)}
            (ctx.tmp / f"{tag}.json").write_text(json.dumps(ms))
            figure.update(
                count=len(ms),
                min=min(ms),
                max=max(ms),
                over_100=sum(m > 100 for m in ms),
                achieved_rate=achieved_rate,
            )
            results[variant].append(figure)
            say(
                f"latency rep {rep + 1}/{cfg.reps} {variant}: p50 {figure['p50']:.1f} ms "
                f"p95 {figure['p95']:.1f} p99 {figure['p99']:.1f} ({len(ms)} events)"
            )
    infra.retire([worker])
    return results
