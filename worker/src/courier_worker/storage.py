"""The storage the worker shares with the web (``STORAGE_URL``): which one a URL names.

A local folder (``file:///path`` or a plain path; ``storage_base``) or an
S3-compatible bucket (``s3://bucket/prefix``; ``storage_s3``). See
``storage_base`` for what every storage promises.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from courier_worker.storage_base import (
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
    "local_root",
    "make_storage",
]


def local_root(storage_url: str) -> Path | None:
    """The folder ``storage_url`` names, or None when it names a bucket."""
    parts = urlsplit(storage_url)
    if parts.scheme == "s3":
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # one letter: a Windows drive, not a scheme
        raise ValueError(f"STORAGE_URL: unsupported scheme {parts.scheme!r} (file:// or s3://)")
    return Path(storage_url)


def make_storage(storage_url: str) -> Storage:
    """The storage ``STORAGE_URL`` names."""
    root = local_root(storage_url)
    if root is not None:
        return LocalStorage(root)
    from courier_worker.storage_s3 import S3Storage  # lazy: boto3 only where a bucket is used

    return S3Storage.from_url(storage_url)
