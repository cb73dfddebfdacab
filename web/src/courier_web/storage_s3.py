"""The shared storage in an S3-compatible bucket (``STORAGE_URL=s3://bucket/prefix``), via boto3.

Credentials, region and endpoint come from boto3's usual configuration
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL`` for a server other than AWS, or an instance role).
Objects are written without any ACL (private, the bucket's default) and are
never served from the bucket: the web streams them itself. A write is
spooled to a temporary file and uploaded when complete (multipart for large
objects), so a reader sees the whole object or none.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from courier_web.storage_base import StorageError, StorageUnavailable, check_reference

__all__ = ["S3Storage"]

#: Spooled in memory up to this size, then to a temporary file.
SPOOL_BYTES = 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    """Objects as keys ``<prefix>/<reference>`` in one bucket."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client if client is not None else boto3.client("s3")

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError("STORAGE_URL: an S3 bucket is s3://bucket or s3://bucket/prefix")
        return cls(parts.netloc, parts.path)

    def key(self, reference: str) -> str:
        reference = check_reference(reference)
        return f"{self.prefix}/{reference}" if self.prefix else reference

    @contextmanager
    def writer(self, reference: str) -> Iterator[BinaryIO]:
        key = self.key(reference)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            yield cast(BinaryIO, spool)
            spool.seek(0)
            try:
                self.client.upload_fileobj(spool, self.bucket, key)
            except (BotoCoreError, ClientError) as exc:
                raise StorageUnavailable(f"could not store {key!r}: {exc}") from exc

    @contextmanager
    def reader(self, reference: str) -> Iterator[BinaryIO]:
        key = self.key(reference)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise StorageError(f"no object {reference!r} in the storage") from None
            raise StorageUnavailable(f"could not read {key!r}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"could not read {key!r}: {exc}") from exc
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()
