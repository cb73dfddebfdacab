"""``courier-worker``: operator commands for the worker service."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from courier_worker.heartbeat import age
from courier_worker.logs import configure_logging
from courier_worker.settings import get_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="courier-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init-db", help="create the worker's tables (idempotent)")
    commands.add_parser(
        "declare-topology",
        help="declare and bind the worker's queues on the broker (idempotent; a deploy step)",
    )
    health = commands.add_parser(
        "healthcheck", help="exit 0 when this container's worker beat recently (liveness probe)"
    )
    health.add_argument("--max-age", type=float, help="seconds (default WORKER_HEARTBEAT_MAX_AGE)")
    health.add_argument("--file", type=Path, help="heartbeat file (default WORKER_HEARTBEAT_FILE)")
    handlers = commands.add_parser(
        "handlers", help="list the declared handlers: event type, handler, queue, transient errors"
    )
    handlers.add_argument("--json", action="store_true", help="one JSON object per line")
    asyncapi = commands.add_parser(
        "asyncapi-part",
        help="print the worker's part of the AsyncAPI document as JSON (read by make asyncapi)",
    )
    asyncapi.add_argument("--output", type=Path, help="write it to this file (default: stdout)")
    audit = commands.add_parser(
        "audit", help="print the audit trail of one web record (user, profile...), oldest first"
    )
    audit.add_argument("entity", help="what kind of record: user, profile...")
    audit.add_argument("entity_id", metavar="id", help="the record's id in the web service")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    exporter = commands.add_parser(
        "queue-exporter",
        help="serve the queues' depth, consumers and oldest ready age to Prometheus (runs until "
        "SIGTERM)",
    )
    exporter.add_argument("--port", type=int, default=9810, help="default 9810")
    exporter.add_argument("--address", help="default WORKER_METRICS_ADDRESS (the image's: 0.0.0.0)")
    exporter.add_argument(
        "--interval", type=float, default=15.0, help="seconds between two measurements (15)"
    )
    dead = commands.add_parser("dead-letters", help="inspect or requeue dead-lettered messages")
    dead_commands = dead.add_subparsers(dest="action", required=True)
    listing = dead_commands.add_parser("list", help="print dead letters as JSON lines")
    listing.add_argument("--limit", type=int, default=100, help="per queue (default 100)")
    requeue = dead_commands.add_parser("requeue", help="move dead letters back to their queue")
    requeue.add_argument("ids", nargs="*", help="event ids (default: all, up to --limit)")
    requeue.add_argument("--limit", type=int, default=1000, help="per queue (default 1000)")
    read_model = commands.add_parser(
        "read-model",
        help="the users read model (reports): count its rows, show one user, or reset it",
    )
    read_model.add_argument(
        "action",
        choices=["count", "show", "reset"],
        help="show USER_ID: the user as reports see it; reset: empty it, for a rebuild",
    )
    read_model.add_argument("user_id", nargs="?", type=int, help="the web's user id (show)")
    args = parser.parse_args(argv)

    if args.command == "init-db":
        return _init_db()
    if args.command == "declare-topology":
        return _declare_topology()
    if args.command == "handlers":
        return _handlers(as_json=args.json)
    if args.command == "asyncapi-part":
        return _asyncapi_part(args.output)
    if args.command == "audit":
        return _audit(args.entity, args.entity_id, as_json=args.json)
    if args.command == "queue-exporter":
        return _queue_exporter(args.port, args.address, args.interval)
    if args.command == "read-model":
        return _read_model(args.action, args.user_id)
    if args.command == "dead-letters":
        return _dead_letters(args.action, args.limit, getattr(args, "ids", []))
    return _healthcheck(args.file, args.max_age)


def _read_model(action: str, user_id: int | None) -> int:
    from courier_worker.read_model import make_user_directory  # lazy: keeps healthcheck light

    if (action == "show") != (user_id is not None):
        print("a user id goes with show, and only with show", file=sys.stderr)
        return 2
    directory = make_user_directory(get_settings())
    if action == "show":
        assert user_id is not None
        user = directory.get(user_id)
        if user is None:
            known = directory.version_of(user_id)
            state = "unknown" if known is None else "deleted" if known[1] else "not registered yet"
            print(f"user {user_id}: {state}", file=sys.stderr)
            return 1
        print(
            json.dumps(
                {
                    "user_id": user.user_id,
                    "email": user.email,
                    "display_name": user.display_name,
                    "registered_at": user.registered_at.isoformat(),
                    "version": user.version,
                }
            )
        )
        return 0
    if action == "reset":
        # Emptied, not dropped: workers running now keep their prepared table.
        directory.reset()
        print("read model emptied; now run `courier-web replay_registrations` on the web side")
        return 0
    print(json.dumps(directory.counts()))
    return 0


def _queue_exporter(port: int, address: str | None, interval: float) -> int:
    from courier_worker.queue_exporter import serve  # lazy: keeps healthcheck light

    if not 0 < port < 65536 or interval <= 0:
        print("--port must be 1-65535 and --interval above 0", file=sys.stderr)
        return 2
    return serve(
        port=port, address=address or get_settings().WORKER_METRICS_ADDRESS, interval=interval
    )


def _dead_letters(action: str, limit: int, ids: list[str]) -> int:
    from courier_worker.celery_app import app  # lazy: keeps healthcheck light
    from courier_worker.operations import list_dead_letters, requeue_dead_letters

    configure_logging(get_settings().LOG_LEVEL)
    if action == "list":
        count = list_dead_letters(app, limit=limit)
        print(f"{count} dead letter(s)", file=sys.stderr)
    else:
        count = requeue_dead_letters(app, ids=ids, limit=limit)
        print(f"{count} dead letter(s) requeued", file=sys.stderr)
    return 0


def _asyncapi_part(output: Path | None) -> int:
    from courier_worker.asyncapi_part import asyncapi_part  # lazy: keeps healthcheck light

    text = asyncapi_part().model_dump_json(indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)  # a file, not stdout, which log lines may share
    return 0


def _handlers(*, as_json: bool) -> int:
    from courier_worker.handlers import declarations  # lazy: keeps healthcheck light

    rows = [
        {
            "event_type": declaration.event_type,
            "handler": declaration.name,
            "queue": declaration.queue.name,
            "transient": [f"{t.__module__}.{t.__qualname__}" for t in declaration.transient],
        }
        for declaration in declarations()
    ]
    for row in rows:
        if as_json:
            print(json.dumps(row))
        else:
            extra = f"  transient: {', '.join(row['transient'])}" if row["transient"] else ""
            print(f"{row['event_type']}  {row['handler']}  on {row['queue']}{extra}")
    return 0


def _declare_topology() -> int:
    # Queues exist before the first event is published, not when a worker
    # first connects: the producer publishes with `mandatory`, and an event
    # for which no queue is bound yet comes back unroutable.
    from courier_worker.celery_app import app  # lazy: keeps healthcheck light
    from courier_worker.topology import DEAD_LETTER_QUEUES, consuming_queues, delay_queues

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    queues = (
        *consuming_queues(),
        *DEAD_LETTER_QUEUES,
        *delay_queues(settings.WORKER_RETRY_DELAYS),
    )
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            queue(channel).declare()
    print(f"declared {len(queues)} queues")
    return 0


def _audit(entity: str, entity_id: str, *, as_json: bool) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from courier_worker.audit_store import make_audit_trail  # lazy: keeps healthcheck light

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    try:
        entries = make_audit_trail(settings).entries(entity, entity_id)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        print(f"cannot read the audit trail: {type(exc).__name__}: {reason}", file=sys.stderr)
        return 1
    for entry in entries:
        print(json.dumps(entry.as_json()) if as_json else entry.line())
    print(f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}", file=sys.stderr)
    return 0


def _init_db() -> int:
    from courier_worker.audit_store import make_audit_trail  # lazy: keeps healthcheck light
    from courier_worker.bootstrap import make_store

    settings = get_settings()
    configure_logging(settings.LOG_LEVEL)
    make_store(settings)
    make_audit_trail(settings).create_schema()
    print("worker database ready")
    return 0


def _healthcheck(path: Path | None, max_age: float | None) -> int:
    settings = get_settings()
    path = path or settings.WORKER_HEARTBEAT_FILE
    limit = max_age if max_age is not None else settings.WORKER_HEARTBEAT_MAX_AGE
    seconds = age(path)
    if seconds is None:
        print(f"unhealthy: no heartbeat at {path}", file=sys.stderr)
        return 1
    if seconds > limit:
        print(f"unhealthy: last heartbeat {seconds:.0f}s ago (limit {limit:.0f}s)", file=sys.stderr)
        return 1
    print(f"healthy: last heartbeat {seconds:.0f}s ago")
    return 0


if __name__ == "__main__":
    sys.exit(main())
