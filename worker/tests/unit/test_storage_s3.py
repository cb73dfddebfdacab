"""The S3 storage through boto3, against moto's in-process S3: private objects, whole or none."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from courier_worker.storage import StorageError, StorageUnavailable, make_storage
from courier_worker.storage_s3 import S3Storage
from moto import mock_aws


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="courier-test")
        yield "courier-test"


def test_an_object_is_written_whole_under_its_prefix_and_read_back(bucket: str) -> None:
    storage = make_storage(f"s3://{bucket}/shared/")
    assert isinstance(storage, S3Storage)
    data = b"user_id,email\r\n" + b"1,a@example.com\r\n" * 100_000  # over the spool's memory part
    with storage.writer("reports/r1.csv") as out:
        out.write(data)
    client = boto3.client("s3")
    assert client.head_object(Bucket=bucket, Key="shared/reports/r1.csv")["ContentLength"] == len(
        data
    )
    grants = client.get_object_acl(Bucket=bucket, Key="shared/reports/r1.csv")["Grants"]
    assert all("AllUsers" not in str(grant.get("Grantee")) for grant in grants)  # never public
    with storage.reader("reports/r1.csv") as stream:
        assert stream.read(15) == b"user_id,email\r\n"
        assert len(stream.read()) == len(data) - 15


def test_a_failed_write_stores_nothing(bucket: str) -> None:
    storage = S3Storage(bucket)

    def half_write() -> None:
        with storage.writer("documents/d.csv") as out:
            out.write(b"half")
            raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        half_write()
    with pytest.raises(StorageError, match="no object"):
        storage.reader("documents/d.csv").__enter__()


def test_a_missing_bucket_is_unavailable_storage_worth_a_retry(bucket: str) -> None:
    storage = S3Storage("no-such-bucket")
    with pytest.raises(StorageUnavailable), storage.writer("reports/x.csv") as out:
        out.write(b"x")
    assert issubclass(StorageUnavailable, OSError)  # transient for the report handlers


def test_references_stay_inside_the_prefix(bucket: str) -> None:
    with pytest.raises(StorageError):
        S3Storage(bucket, "p").key("../escape")
    with pytest.raises(ValueError, match="s3://bucket"):
        S3Storage.from_url("s3:///nobucket")
