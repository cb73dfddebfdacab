"""``courier-web outbox status|replay|prune``: see and act on the outbox."""

from __future__ import annotations

import json
import uuid
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from courier_web.outbox.operations import outbox_prune, outbox_replay
from courier_web.outbox.selectors import outbox_failed_list, outbox_stats


class Command(BaseCommand):
    help = "Outbox operations: `status` (pending, oldest age, failed rows), `replay`, `prune`."

    def add_arguments(self, parser: ArgumentParser) -> None:
        assert isinstance(parser, CommandParser)
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        status = sub.add_parser("status", help="pending count, oldest pending age, failed rows")
        status.add_argument("--json", action="store_true", help="one JSON object, for machines")
        status.add_argument(
            "--limit", type=int, default=50, help="failed rows to list (default 50)"
        )

        replay = sub.add_parser("replay", help="make failed rows pending again (attempts reset)")
        which = replay.add_mutually_exclusive_group(required=True)
        which.add_argument("--all-failed", action="store_true", help="every failed row")
        which.add_argument(
            "--event-id",
            dest="event_ids",
            action="append",
            type=uuid.UUID,
            metavar="ID",
            help="a failed row's event id (repeatable)",
        )

        prune = sub.add_parser("prune", help="delete sent rows older than the retention")
        prune.add_argument(
            "--older-than-hours",
            type=float,
            default=settings.OUTBOX_RETENTION_HOURS,
            help="default: OUTBOX_RETENTION_HOURS",
        )
        prune.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "status":
            self._status(as_json=options["json"], limit=options["limit"])
        elif action == "replay":
            report = outbox_replay(
                event_ids=options["event_ids"] or (), all_failed=options["all_failed"]
            )
            self.stdout.write(f"replayed {len(report.replayed)} failed row(s)")
            for event_id in report.replayed:
                self.stdout.write(f"  {event_id}")
            if report.skipped:
                raise CommandError(
                    "not failed rows (unknown, pending or sent), left alone: "
                    + ", ".join(report.skipped)
                )
        elif action == "prune":
            hours = options["older_than_hours"]
            if hours <= 0:
                raise CommandError("--older-than-hours must be positive")
            deleted = outbox_prune(
                older_than=timedelta(hours=hours), batch_size=options["batch_size"]
            )
            self.stdout.write(f"deleted {deleted} sent row(s) older than {hours:g}h")

    def _status(self, *, as_json: bool, limit: int) -> None:
        stats = outbox_stats()
        failed = outbox_failed_list(limit=limit)
        rows = [
            {
                "event_id": str(row.event_id),
                "event_type": row.event_type,
                "correlation_id": row.correlation_id,
                "attempts": row.attempts,
                "created_at": row.created_at.isoformat(),
                "reason": row.last_error,
            }
            for row in failed
        ]
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "pending": stats.pending,
                        "oldest_pending_age_seconds": stats.oldest_pending_age_s,
                        "failed": stats.failed,
                        "failed_rows": rows,
                    }
                )
            )
            return
        self.stdout.write(f"pending: {stats.pending}")
        self.stdout.write(f"oldest pending age: {stats.oldest_pending_age_s:.1f}s")
        self.stdout.write(f"failed: {stats.failed}")
        for row in rows:
            self.stdout.write(
                f"  {row['event_id']}  {row['event_type']}  attempts={row['attempts']}  "
                f"created={row['created_at']}  reason: {row['reason']}"
            )
        if stats.failed > len(rows):
            self.stdout.write(f"  ... and {stats.failed - len(rows)} more (--limit)")
        if stats.failed:
            self.stdout.write(
                "replay with: courier-web outbox replay --all-failed (or --event-id ID ...)"
            )
