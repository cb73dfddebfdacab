"""The storage the web shares with the worker (``STORAGE_URL``): documents in, reports out.

A local folder (``file:///path`` or a plain path; ``storage_base``) or an
S3-compatible bucket (``s3://bucket/prefix``; ``storage_s3``). Objects are
named by a reference (``reports/<id>.csv``), the same in both services and in
the events that pass it on; nothing is ever public: the web streams
downloads itself, after checking who asks.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings

from courier_web.storage_base import (
    LocalStorage,
    Storage,
    StorageError,
    StorageUnavailable,
    check_reference,
)

__all__ = [
    "LocalStorage",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "check_reference",
    "make_storage",
    "shared_storage",
]


def make_storage(storage_url: str) -> Storage:
    """The storage ``storage_url`` names."""
    parts = urlsplit(storage_url)
    if parts.scheme == "file":
        return LocalStorage(Path(unquote(parts.path)))
    if not parts.scheme or len(parts.scheme) == 1:  # one letter: a Windows drive
        return LocalStorage(Path(storage_url))
    if parts.scheme == "s3":
        from courier_web.storage_s3 import S3Storage  # lazy: boto3 only where a bucket is used

        return S3Storage.from_url(storage_url)
    raise ValueError(f"STORAGE_URL: unsupported storage {parts.scheme!r}:// (a folder, s3://)")


@cache
def _storage(storage_url: str) -> Storage:
    return make_storage(storage_url)


def shared_storage() -> Storage:
    """The storage ``settings.STORAGE_URL`` names (one per URL, so tests may override it)."""
    return _storage(settings.STORAGE_URL)
