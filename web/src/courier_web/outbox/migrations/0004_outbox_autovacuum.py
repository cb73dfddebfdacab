"""On PostgreSQL, vacuum the outbox after every ~1,000 changed rows, not after 20 % of it.

Every row is updated once (pending -> sent) and later deleted by the prune, so
the table is mostly dead tuples between vacuums, and each claim's index scan
of the pending rows walks past the entries of rows already sent (measured:
0.3 ms with 1,200 of them, 33 ms a claim on average while draining 10,000;
docs/performance.md). The
default threshold (20 % of a table holding a week of sent rows) lets that grow
into millions; a fixed threshold keeps it to a few thousand.
"""

from django.db import migrations

TABLE = "outbox_outboxmessage"


def tune(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {TABLE} SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0, "
            "autovacuum_vacuum_insert_threshold = 1000)"
        )


def untune(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {TABLE} RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_vacuum_threshold, autovacuum_vacuum_insert_scale_factor, "
            "autovacuum_vacuum_insert_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0003_notify_trigger"),
    ]

    operations = [
        migrations.RunPython(tune, untune, elidable=False),
    ]
