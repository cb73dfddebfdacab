"""Streaming a stored report back, checked against the checksum the worker reported."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from courier_web.shared_storage import Storage

CHUNK_BYTES = 64 * 1024


class ChecksumMismatch(Exception):
    """The stored file is not the one the worker reported (size or SHA-256)."""


def verify(storage: Storage, reference: str, *, sha256: str, size_bytes: int) -> None:
    """Read the object once, hashing it: ``ChecksumMismatch`` unless it is the one expected."""
    digest = hashlib.sha256()
    size = 0
    with storage.reader(reference) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    if size != size_bytes or digest.hexdigest() != sha256:
        raise ChecksumMismatch(f"{reference}: stored file does not match its checksum")


def chunks(storage: Storage, reference: str) -> Iterator[bytes]:
    """The object in chunks, read as the response is sent (never whole in memory)."""
    with storage.reader(reference) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk
