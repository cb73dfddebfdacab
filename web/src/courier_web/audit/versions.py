"""The next version of an audited record: one statement, in the transaction of its change.

Creation is version 1 and costs nothing. Every later change (an update, the
deletion) runs one upsert that returns the new number::

    INSERT INTO audit_entityversion (entity, entity_id, version) VALUES (.., .., 2)
    ON CONFLICT (entity, entity_id) DO UPDATE SET version = audit_entityversion.version + 1
    RETURNING version

A missing row means that only the creation happened, hence 2. The row stays
locked until the change commits, so two transactions changing one record
take their numbers in commit order, without gaps: a consumer that keeps a
copy of the record applies a change only when its version is newer than the
one it holds. (The saved row's own lock orders them already; the counter
makes the order visible.) ``ON CONFLICT .. RETURNING``: PostgreSQL, and
SQLite from 3.35.
"""

from __future__ import annotations

from django.db import connections

from courier_web.audit.models import EntityVersion

__all__ = ["FIRST_VERSION", "next_version"]

#: A record's creation.
FIRST_VERSION = 1


def next_version(*, entity: str, entity_id: str, using: str) -> int:
    """Count one more change of the record, in the current transaction; its new version."""
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(EntityVersion._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({quote('entity')}, {quote('entity_id')}, {quote('version')}) "  # noqa: S608
        f"VALUES (%s, %s, %s) ON CONFLICT ({quote('entity')}, {quote('entity_id')}) "
        f"DO UPDATE SET {quote('version')} = {table}.{quote('version')} + 1 "
        f"RETURNING {quote('version')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [entity, entity_id, FIRST_VERSION + 1])
        row = cursor.fetchone()
    return int(row[0])
