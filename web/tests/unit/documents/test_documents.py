"""Documents over the API: uploaded and stored, limited in size, settled by the worker's answer
or by the deadline, shown to their owner only."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import ClientHandler
from django.utils import timezone
from shared_contracts import encode, new_envelope
from shared_contracts.events.documents import ColumnSummary, DocumentFailed, DocumentProcessed

from courier_web.consumer.processing import Outcome, process
from courier_web.documents.models import Document
from courier_web.documents.services import documents_expire
from courier_web.outbox.models import OutboxMessage
from courier_web.shared_storage import LocalStorage, shared_storage
from tests.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

CSV = b"id,name\n1,Ada\n2,Lin\n"


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> LocalStorage:
    settings.STORAGE_URL = str(tmp_path / "storage")
    local = shared_storage()
    assert isinstance(local, LocalStorage)
    return local


def token(client: Client, email: str) -> str:
    credentials = {"email": email, "password": STRONG_PASSWORD}
    client.post("/api/users", json.dumps(credentials), content_type="application/json")
    response = client.post("/api/tokens", json.dumps(credentials), content_type="application/json")
    return str(response.json()["token"])


def upload(client: Client, who: str, data: bytes = CSV, name: str = "people.csv") -> Any:
    return client.post(
        "/api/documents",
        {"file": SimpleUploadedFile(name, data, content_type="text/csv")},
        headers={"Authorization": f"Bearer {who}"},
    )


def show(client: Client, who: str, document_id: str) -> Any:
    return client.get(f"/api/documents/{document_id}", headers={"Authorization": f"Bearer {who}"})


def deliver(payload: Any) -> Outcome:
    message = encode(new_envelope(payload, producer="courier-worker", correlation_id="r"))
    return process(message.body, message.headers).outcome


def test_an_upload_is_stored_and_announced(client: Client, storage: LocalStorage) -> None:
    response = upload(client, token(client, "ada@example.com"))
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    document = Document.objects.get(pk=response.json()["id"])
    assert storage.path(document.reference).read_bytes() == CSV
    assert document.sha256 == hashlib.sha256(CSV).hexdigest()
    assert (document.size_bytes, document.filename) == (len(CSV), "people.csv")
    row = OutboxMessage.objects.get(event_type="document.uploaded.v1")
    payload = json.loads(row.body)[1]["event"]["payload"]
    assert payload["document_id"] == str(document.pk)
    assert payload["reference"] == document.reference


def test_a_document_over_the_limit_is_a_413(client: Client, settings: Any) -> None:
    settings.DOCUMENT_MAX_BYTES = 1000
    response = upload(client, token(client, "ada@example.com"), b"a\n" + b"1\n" * 600)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Document.objects.exists()


def test_a_chunked_upload_over_the_limit_is_a_413_before_it_is_read(settings: Any) -> None:
    settings.HTTP_BODY_LIMITS_BY_PATH = {"/api/documents": 4096}
    body = b"--x\r\nContent-Disposition: form-data; name=file; filename=a.csv\r\n\r\n"
    body += b"1\n" * 5000 + b"\r\n--x--\r\n"
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/documents",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "multipart/form-data; boundary=x",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    response = ClientHandler()(environ)
    assert response.status_code == 413


def test_an_upload_without_one_file_is_a_422(client: Client) -> None:
    who = token(client, "ada@example.com")
    response = client.post("/api/documents", {}, headers={"Authorization": f"Bearer {who}"})
    assert response.status_code == 422
    two = client.post(
        "/api/documents",
        {"file": [SimpleUploadedFile("a.csv", CSV), SimpleUploadedFile("b.csv", CSV)]},
        headers={"Authorization": f"Bearer {who}"},
    )
    assert two.status_code == 422
    assert (
        client.post("/api/documents", {"file": SimpleUploadedFile("a.csv", CSV)}).status_code == 401
    )


@pytest.mark.parametrize("content_length", [None, "0"])
def test_a_multipart_type_without_a_boundary_is_a_400(
    client: Client, content_length: str | None
) -> None:
    """What ``curl -X POST -H 'Content-Type: multipart/form-data'`` sends: no boundary."""
    who = token(client, "ada@example.com")
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/documents",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "multipart/form-data",
        "HTTP_AUTHORIZATION": f"Bearer {who}",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    response = ClientHandler()(environ)
    assert response.status_code == 400, response.content
    assert json.loads(response.content)["error"]["code"] == "bad_request"


def test_the_summary_is_shown_to_the_uploader_only(client: Client) -> None:
    ada, mallory = token(client, "ada@example.com"), token(client, "mallory@example.com")
    document_id = upload(client, ada).json()["id"]
    summary = DocumentProcessed(
        document_id=uuid.UUID(document_id),
        rows=2,
        columns=(
            ColumnSummary(name="id", type="integer", nulls=0),
            ColumnSummary(name="name", type="text", nulls=0),
        ),
    )
    assert deliver(summary) is Outcome.HANDLED
    shown = show(client, ada, document_id).json()
    assert shown["status"] == "processed"
    assert shown["summary"]["rows"] == 2
    assert shown["summary"]["columns"][0] == {"name": "id", "type": "integer", "nulls": 0}
    assert shown["summary"]["invalid_lines"] == []
    assert show(client, mallory, document_id).status_code == 404
    assert show(client, ada, str(uuid.uuid4())).status_code == 404


def test_a_failed_document_shows_its_reason(client: Client) -> None:
    ada = token(client, "ada@example.com")
    document_id = upload(client, ada).json()["id"]
    assert deliver(DocumentFailed(document_id=uuid.UUID(document_id), reason="ragged CSV")) is (
        Outcome.HANDLED
    )
    shown = show(client, ada, document_id).json()
    assert (shown["status"], shown["reason"], shown["summary"]) == ("failed", "ragged CSV", None)


def test_past_its_deadline_a_document_fails_with_timeout_and_a_late_result_is_ignored(
    client: Client, settings: Any
) -> None:
    ada = token(client, "ada@example.com")
    document_id = upload(client, ada).json()["id"]
    assert documents_expire() == 0
    later = timezone.now() + timedelta(seconds=settings.DOCUMENT_DEADLINE_SECONDS + 1)
    assert documents_expire(now=later) == 1
    late = DocumentProcessed(document_id=uuid.UUID(document_id), rows=1, columns=())
    assert deliver(late) is Outcome.HANDLED  # consumed, and changes nothing
    shown = show(client, ada, document_id).json()
    assert (shown["status"], shown["reason"]) == ("failed", "timeout")


def test_reading_a_document_past_its_deadline_answers_timeout(
    client: Client, settings: Any
) -> None:
    settings.DOCUMENT_DEADLINE_SECONDS = 0
    ada = token(client, "ada@example.com")
    document_id = upload(client, ada).json()["id"]
    shown = show(client, ada, document_id).json()
    assert (shown["status"], shown["reason"]) == ("failed", "timeout")
