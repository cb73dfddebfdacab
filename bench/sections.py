"""The benchmark sections. Each returns its repetitions; ``run.py`` turns them into figures.

Every section interleaves its variants within each repetition (A, B, C, then
B, C, A, ...) so that a noisy neighbour slows all of them alike.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import infra, loadgen
from bench.infra import BIN, PYTHON, Cleanup, Proc, say

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
    http_warmup: float
    http_threads: int
    scaling_seconds: float
    warmup_seconds: float = 3.0
    io_wait_ms: float = 20.0


#: The latency figure offers 50/s for 30 s per variant, as 3 repetitions of 10 s.
FULL = Config(False, 3, 10_000, 10_000, 2, 50.0, 10.0, 4.0, 1.0, 4, 3.0)
#: A smoke run under a minute: one repetition of each figure, small sizes.
QUICK = Config(True, 1, 1_000, 1_000, 2, 50.0, 2.0, 1.0, 0.3, 4, 1.0, 1.0)


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


def prepare(ctx: Context) -> None:
    say("setup: migrating the web database, creating the worker's table, declaring queues")
    env = ctx.web_env(LOG_LEVEL="WARNING")
    subprocess.run(
        [str(BIN / "courier-web"), "migrate", "--noinput", "-v", "0"],
        env=env,
        check=True,
        timeout=180,
        cwd=infra.ROOT,
    )
    subprocess.run(
        [str(BIN / "courier-worker"), "init-db"],
        env=ctx.worker_env(),
        check=True,
        timeout=60,
        cwd=infra.ROOT,
        capture_output=True,
    )
    infra.declare_worker_queues(ctx.url)


# ---------------------------------------------------------------- publish


def publish(ctx: Context) -> dict[str, list[float]]:
    cfg = ctx.config
    out = ctx.tmp / "publish.json"
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
            "--out",
            str(out),
        ],
        env,
        ctx.tmp,
        echo=True,
    )
    try:
        proc.popen.wait(timeout=60 + cfg.reps * cfg.publish_count * 0.02)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"publish scenario timed out:\n{proc.tail()}") from None
    if proc.popen.returncode != 0:
        raise RuntimeError(f"publish scenario failed:\n{proc.tail(40)}")
    data = json.loads(out.read_text())
    infra.sql(ctx.web_db, "DELETE FROM outbox_outboxmessage")
    return {name: [data["count"] / s for s in seconds] for name, seconds in data["seconds"].items()}


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


def _settle(ctx: Context) -> None:
    """An empty queue: a stopped consumer's unacked prefetch is requeued asynchronously."""
    time.sleep(0.6)
    infra.purge(ctx.url, BULK)
    time.sleep(0.3)
    infra.purge(ctx.url, BULK)


def _handled_count(ctx: Context) -> int:
    return int(infra.sql(ctx.worker_db, "SELECT count(*) FROM handled_events")[0][0])


def _drain(ctx: Context, procs: list[Proc], count: int, timeout: float) -> float:
    try:
        return infra.measure_drain(ctx.url, BULK, count, timeout)
    except RuntimeError as exc:
        tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in procs)
        raise RuntimeError(f"{exc}\n{tails}") from None


def consume(ctx: Context) -> tuple[dict[str, list[float]], dict[str, float]]:
    cfg = ctx.config
    n, c = cfg.consume_count, cfg.concurrency
    eps: dict[str, list[float]] = {"courier": [], "celery_noop": [], "kombu_raw": []}
    memory: dict[str, float] = {}
    for rep in range(cfg.reps):
        for variant in rotate(list(eps), rep):
            _settle(ctx)
            infra.publish_raw(ctx.url, infra.probes(n, f"c{rep}{variant}"))
            infra.wait_ready_count(ctx.url, BULK, n)
            before = _handled_count(ctx) if variant == "courier" else 0
            if variant == "courier":
                procs = [
                    _celery_worker(
                        ctx, "courier-worker", "courier_worker.celery_app:app", concurrency=c
                    )
                ]
            elif variant == "celery_noop":
                procs = [
                    _celery_worker(
                        ctx, "celery-noop", "bench.apps.noop_celery:app", concurrency=c, queues=BULK
                    )
                ]
            else:
                env = ctx.worker_env(BENCH_PREFETCH=str(4))
                procs = [
                    infra.start(
                        ctx.cleanup,
                        f"kombu-raw-{i}",
                        [str(PYTHON), "-m", "bench.apps.kombu_raw"],
                        env,
                        ctx.tmp,
                    )
                    for i in range(c)
                ]
            try:
                rate = _drain(ctx, procs, n, timeout=60 + n / 50)
                if variant == "courier":
                    infra.wait_until(
                        "every probe recorded as handled",
                        lambda b=before: _handled_count(ctx) >= b + n,
                        30,
                        procs[0],
                    )
                    dead, _ = infra.queue_counts(ctx.url, f"{BULK}.dead-letter")
                    if dead:
                        raise RuntimeError(f"{dead} probes were dead-lettered")
                    main = procs[0].pid
                    kids = infra.children(main)
                    memory = {
                        "worker_main_process": infra.rss_mb(main),
                        "worker_process": max(infra.rss_mb(k) for k in kids) if kids else 0.0,
                    }
            finally:
                for proc in procs:
                    proc.stop()
            eps[variant].append(rate)
            say(f"consume rep {rep + 1}/{cfg.reps} {variant}: {rate:,.0f} events/s")
    infra.purge(ctx.url, BULK)
    return eps, memory


# ---------------------------------------------------------------- scaling


def scaling(ctx: Context) -> dict[str, list[float]]:
    cfg = ctx.config
    ideal_per_proc = 1000.0 / cfg.io_wait_ms
    env = ctx.worker_env(BENCH_IO_WAIT_MS=str(cfg.io_wait_ms))
    configs = [("prefork", 1), ("prefork", 2), ("prefork", 4)]
    if not cfg.quick:  # extras for the pool-choice paragraph of docs/performance.md
        configs += [("threads", 4), ("threads", 8)]
    eps: dict[str, list[float]] = {f"{p}:{c}": [] for p, c in configs}
    for rep in range(cfg.reps):
        # The threads extras run once: they inform the pool-choice paragraph, no goal.
        planned = configs if rep == 0 else [c for c in configs if c[0] == "prefork"]
        for pool, procs in rotate(planned, rep):
            n = max(100, int(ideal_per_proc * procs * cfg.scaling_seconds))
            _settle(ctx)
            infra.publish_raw(ctx.url, infra.probes(n, f"s{rep}{pool}{procs}"))
            infra.wait_ready_count(ctx.url, BULK, n)
            worker = _celery_worker(
                ctx,
                f"io-{pool}-{procs}",
                "bench.apps.io_worker:app",
                concurrency=procs,
                pool=pool,
                env=env,
            )
            try:
                rate = _drain(ctx, [worker], n, timeout=60 + n / 10)
                time.sleep(0.5)  # let the last prefetched events finish before stopping
            finally:
                worker.stop()
            eps[f"{pool}:{procs}"].append(rate)
            say(
                f"scaling rep {rep + 1}/{cfg.reps} {pool} x{procs}: {rate:,.1f} events/s "
                f"(ideal {ideal_per_proc * procs:,.0f})"
            )
    infra.purge(ctx.url, BULK)
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


def http_and_middleware(ctx: Context) -> tuple[dict[str, list[float]], dict[str, float]]:
    """``POST /api/users`` events on/off, and ``GET /healthz`` full/bare, same gunicorn config."""
    cfg = ctx.config
    servers = {
        "events_on": gunicorn(ctx, "web-events-on", "courier_web.config.settings.base"),
        "events_off": gunicorn(ctx, "web-events-off", "bench.web.settings_events_off"),
        "bare": gunicorn(ctx, "web-bare", "courier_web.config.settings.bare"),
    }
    # Eventing includes its publisher: on PostgreSQL that is the relay, woken by
    # NOTIFY (OUTBOX_DISPATCH=auto -> notify), so it runs on the same cores
    # throughout, for every variant alike.
    relay_argv = [str(BIN / "courier-web"), "relay_outbox"]
    relay = infra.start(ctx.cleanup, "http-relay", relay_argv, ctx.web_env(), ctx.tmp)
    for proc, port in servers.values():
        wait_http(proc, port)
    rps: dict[str, list[float]] = {
        "events_on": [],
        "events_off": [],
        "full": [],
        "bare": [],
        "events_on_relay_paused": [],
    }
    unsent = "SELECT count(*) FROM outbox_outboxmessage WHERE status <> 'sent'"

    def relay_caught_up() -> None:
        infra.wait_until(
            "the relay to publish every registration",
            lambda: int(infra.sql(ctx.web_db, unsent)[0][0]) == 0,
            60,
            relay,
        )

    runs = [
        ("events_on", "events_on", "post"),
        # Extra: the request's own cost, with the relay paused (SIGSTOP) meanwhile.
        ("events_on_relay_paused", "events_on", "post"),
        ("events_off", "events_off", "post"),
        ("full", "events_on", "get"),
        ("bare", "bare", "get"),
    ]
    for rep in range(cfg.reps):
        for figure, server, kind in rotate(runs, rep):
            _, port = servers[server]
            make = _register(f"{ctx.run_id}{figure}{rep}") if kind == "post" else _healthz
            paused = figure == "events_on_relay_paused"
            if paused:
                relay.popen.send_signal(signal.SIGSTOP)
            try:
                result = loadgen.closed_loop(
                    port,
                    make,
                    threads=cfg.http_threads,
                    seconds=cfg.http_seconds,
                    warmup=cfg.http_warmup,
                )
            finally:
                if paused:
                    relay.popen.send_signal(signal.SIGCONT)
            if paused:  # its backlog must not load the next measurement
                relay_caught_up()
            if result.errors or not result.ok:
                raise RuntimeError(f"{figure}: statuses {result.statuses}")
            rps[figure].append(result.rps)
            say(f"http rep {rep + 1}/{cfg.reps} {figure}: {result.rps:,.0f} req/s")
    master = servers["events_on"][0].pid
    workers = infra.children(master)
    memory = {
        "web_process": max(infra.rss_mb(w) for w in workers),
        "web_master_process": infra.rss_mb(master),
    }
    relay_caught_up()
    for proc, _ in servers.values():
        proc.stop()
    relay.stop()
    infra.purge(ctx.url, CRITICAL)
    infra.sql(ctx.web_db, "DELETE FROM outbox_outboxmessage")
    return rps, memory


# ---------------------------------------------------------------- latency


def _handled_times(log: Path) -> dict[str, float]:
    """correlation_id -> wall-clock time of the worker's ``event.handled`` line."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        if '"event.handled"' not in line:
            continue
        record = json.loads(line)
        found[record["correlation_id"]] = datetime.fromisoformat(record["timestamp"]).timestamp()
    return found


def latency(ctx: Context) -> dict[str, list[dict[str, float]]]:
    cfg = ctx.config
    worker = _celery_worker(
        ctx,
        "latency-worker",
        "courier_worker.celery_app:app",
        concurrency=cfg.concurrency,
        env=ctx.worker_env(LOG_LEVEL="INFO", MAIL_DIR=str(ctx.tmp / "mail")),
    )
    courier, courier_port = gunicorn(ctx, "latency-web-courier", "courier_web.config.settings.base")
    naive, naive_port = gunicorn(ctx, "latency-web-naive", "bench.web.settings_naive")
    relay = infra.start(
        ctx.cleanup,
        "latency-relay",
        [str(BIN / "courier-web"), "relay_outbox"],
        ctx.web_env(),
        ctx.tmp,
    )
    for proc, port in ((courier, courier_port), (naive, naive_port)):
        wait_http(proc, port)
    infra.wait_until(
        "latency worker consuming", lambda: infra.queue_counts(ctx.url, CRITICAL)[1] > 0, 60, worker
    )
    results: dict[str, list[dict[str, float]]] = {"courier": [], "naive_delay": []}
    ports = {"courier": courier_port, "naive_delay": naive_port}
    # Warm-up at the offered rate, discarded: lazy connections (the relay's,
    # Celery's producer in the naive web) and the pool children's
    # first events would otherwise land in the first repetition's tail.
    for variant, port in ports.items():
        warm = f"warm{ctx.run_id}{variant[0]}"
        loadgen.open_loop(port, _register(warm), rate=cfg.latency_rate, seconds=cfg.warmup_seconds)
    time.sleep(1.0)
    for rep in range(cfg.reps):
        for variant in rotate(list(results), rep):
            tag = f"lat{ctx.run_id}{variant[0]}{rep}"

            def make(thread: int, i: int, tag: str = tag):
                method, path, body, headers = _register(tag)(thread, i)
                return method, path, body, {**headers, "X-Request-ID": f"{tag}x{i}"}

            samples = loadgen.open_loop(
                ports[variant], make, rate=cfg.latency_rate, seconds=cfg.latency_seconds
            )
            bad = [s for s in samples if s.status != 201]
            if bad:
                raise RuntimeError(f"latency {variant}: {len(bad)} requests failed")
            wanted = {f"{tag}x{s.index}": s for s in samples}
            handled: dict[str, float] = {}

            def all_handled(wanted: dict[str, Any] = wanted, handled: dict = handled) -> bool:
                handled.update(_handled_times(worker.log_path))
                return all(key in handled for key in wanted)

            infra.wait_until(f"{variant} events handled", all_handled, 60, worker)
            ms = [(handled[key] - s.responded) * 1000 for key, s in wanted.items()]
            from bench.report import percentile

            figure = {f"p{p}": percentile(ms, p) for p in (50, 95, 99)}
            (ctx.tmp / f"{tag}.json").write_text(json.dumps(ms))
            figure.update(
                count=len(ms),
                min=min(ms),
                max=max(ms),
                over_100=sum(m > 100 for m in ms),
                achieved_rate=len(samples) / (samples[-1].responded - samples[0].responded),
            )
            results[variant].append(figure)
            say(
                f"latency rep {rep + 1}/{cfg.reps} {variant}: p50 {figure['p50']:.1f} ms "
                f"p95 {figure['p95']:.1f} p99 {figure['p99']:.1f} ({len(ms)} events)"
            )
    for proc in (relay, courier, naive, worker):
        proc.stop()
    infra.purge(ctx.url, CRITICAL)
    return results
