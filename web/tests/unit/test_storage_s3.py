"""The web on an S3 bucket (moto in process): an upload lands there; a report streams back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from moto import mock_aws
from shared_contracts import encode, new_envelope
from shared_contracts.events.reports import ReportCompleted

from courier_web.consumer.processing import process
from courier_web.documents.models import Document
from courier_web.shared_storage import shared_storage
from courier_web.storage_s3 import S3Storage
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

BUCKET = "courier-web-test"


@pytest.fixture(autouse=True)
def bucket(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        settings.STORAGE_URL = f"s3://{BUCKET}/it-{id(settings)}"
        yield BUCKET


def token(client: Client) -> str:
    credentials = {"email": "ada@example.com", "password": STRONG_PASSWORD}
    client.post("/api/users", json.dumps(credentials), content_type="application/json")
    response = client.post("/api/tokens", json.dumps(credentials), content_type="application/json")
    return str(response.json()["token"])


def test_an_upload_is_stored_in_the_bucket(client: Client, bucket: str) -> None:
    storage = shared_storage()
    assert isinstance(storage, S3Storage)
    who = token(client)
    response = client.post(
        "/api/documents",
        {"file": SimpleUploadedFile("a.csv", b"a,b\n1,2\n")},
        headers={"Authorization": f"Bearer {who}"},
    )
    assert response.status_code == 202, response.content
    document = Document.objects.get(pk=response.json()["id"])
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=storage.key(document.reference))
    assert stored["Body"].read() == b"a,b\n1,2\n"


def test_a_report_in_the_bucket_is_streamed_by_the_web(client: Client) -> None:
    who = token(client)
    report_id = client.post(
        "/api/reports",
        json.dumps({"kind": "signups", "from": "2026-01-01", "to": "2026-01-02"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {who}"},
    ).json()["id"]
    data = b"user_id,email,display_name,registered_at\r\n"
    with shared_storage().writer(f"reports/{report_id}.csv") as out:
        out.write(data)
    completed = ReportCompleted(
        report_id=report_id,
        reference=f"reports/{report_id}.csv",
        row_count=0,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    message = encode(new_envelope(completed, producer="courier-worker", correlation_id="r"))
    process(message.body, message.headers)
    response = client.get(
        f"/api/reports/{report_id}/download", headers={"Authorization": f"Bearer {who}"}
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
