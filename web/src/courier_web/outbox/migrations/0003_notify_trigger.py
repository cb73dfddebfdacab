"""On PostgreSQL, every row inserted into the outbox is announced on ``courier_outbox``.

The relay LISTENs on that channel (``OUTBOX_DISPATCH=notify``, the default on
PostgreSQL) and claims the announced rows by id right after the commit, so the
request that wrote a row does nothing more than the INSERT (a trigger costs
the writer no round trip). PostgreSQL delivers notifications only when the
transaction commits. Other databases have no LISTEN/NOTIFY: nothing is
created there.
"""

from django.db import migrations

# The channel the relay LISTENs on (courier_web.outbox.wakeup.NOTIFY_CHANNEL), kept
# literal here: a migration must not change when application code does.
NOTIFY_CHANNEL = "courier_outbox"

FUNCTION = "courier_outbox_notify"
TRIGGER = "courier_outbox_notify"
TABLE = "outbox_outboxmessage"


def create_trigger(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.id::text);
            RETURN NULL;
        END
        $$
        """
    )
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON {TABLE} "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )


def drop_trigger(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0002_failed_index"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
