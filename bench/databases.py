"""The run's private PostgreSQL databases (dropped on the way out), and one-off statements."""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import urlsplit

import psycopg

from bench.cleanup import Cleanup
from bench.paths import LOCALHOST


def postgres_admin_url() -> str:
    """``POSTGRES_ADMIN_URL``: a role that may create and drop databases."""
    return os.environ.get("POSTGRES_ADMIN_URL", f"postgresql://postgres@{LOCALHOST}:5432/postgres")


def create_database(cleanup: Cleanup, prefix: str) -> str:
    """A fresh PostgreSQL database (dropped at the end); returns its URL."""
    admin = postgres_admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    cleanup.push(f"database {name}", drop)
    parts = urlsplit(admin)
    return parts._replace(path=f"/{name}").geturl()


def sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement of the bench's own (no parameters) and return its rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


__all__ = ["create_database", "postgres_admin_url", "sql"]
