"""What every storage of the web promises, and the local folder (``STORAGE_URL``).

Objects are named by a reference (``reports/<id>.csv``), the same string in
both services and in the events that pass it on. Nothing is ever public: the
web streams downloads itself, after checking who asks.

``STORAGE_URL`` is a local folder (``file:///path`` or a plain path): the
default, a folder both services reach under ``make run`` and a shared volume
in compose; or an S3-compatible bucket, ``s3://bucket/prefix``, through boto3
(``storage_s3``). Writes are atomic: a reader sees the whole object or none.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = ["LocalStorage", "Storage", "StorageError", "StorageUnavailable", "check_reference"]

_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class StorageError(Exception):
    """An object that cannot be stored or read (missing, a bad reference)."""


class StorageUnavailable(StorageError, OSError):
    """The storage did not answer (a bucket's server away): a 503, not the client's fault."""


def check_reference(reference: str) -> str:
    """``reference`` if it names an object inside the storage (no ``..``, no absolute path)."""
    if len(reference) > 512 or not _REFERENCE.match(reference) or ".." in reference.split("/"):
        raise StorageError(f"not a storage reference: {reference!r}")
    return reference


class Storage(Protocol):
    def writer(self, reference: str) -> AbstractContextManager[BinaryIO]:
        """A file to write the object to; it is stored, whole, when the block ends."""
        ...

    def reader(self, reference: str) -> AbstractContextManager[BinaryIO]:
        """The object as a stream; ``StorageError`` when there is none."""
        ...


class LocalStorage:
    """Objects as files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, reference: str) -> Path:
        return self.root / check_reference(reference)

    @contextmanager
    def writer(self, reference: str) -> Iterator[BinaryIO]:
        target = self.path(reference)
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        try:
            with os.fdopen(descriptor, "w+b") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            Path(temporary).chmod(0o640)  # never world-readable
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @contextmanager
    def reader(self, reference: str) -> Iterator[BinaryIO]:
        try:
            handle = self.path(reference).open("rb")
        except FileNotFoundError:
            raise StorageError(f"no object {reference!r} in the storage") from None
        with handle:
            yield handle
