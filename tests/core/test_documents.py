"""Issuing documents: the row, the stored file, the ledger entry and the public verification."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.audit import AuditEntry, verify
from core.documents import documents_for, issue_document
from core.files import FileStore, file_store
from core.models import Document
from core.pdf import render_pdf
from tests.core.test_pdf import sample_context

DATA = b"%PDF-1.7 not really a pdf, but bytes are bytes"


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "files")


def issue(session, store, now, **overrides) -> Document:
    fields = {
        "kind": "draw_record", "title": "摇号记录", "subject": "case:12", "data": DATA,
        "public": True, "actor": "user:7", **overrides,
    }
    return issue_document(session, store=store, now=now, **fields)


def test_issuing_a_document_adds_a_row_with_its_hash_and_size(session, store, now):
    document = issue(session, store, now)

    row = session.get(Document, document.id)
    assert row.sha256 == hashlib.sha256(DATA).hexdigest()
    assert row.size == len(DATA)
    assert (row.kind, row.title, row.subject) == ("draw_record", "摇号记录", "case:12")
    assert row.media_type == "application/pdf"
    assert row.public is True
    assert row.created_at == now
    assert row.created_by == "user:7"


def test_issuing_a_document_stores_its_bytes(session, store, now):
    document = issue(session, store, now)
    assert store.read(document.sha256) == DATA


def test_issuing_a_document_writes_a_ledger_entry_on_the_subject_stream(session, store, now):
    document = issue(session, store, now)

    entry = session.scalars(select(AuditEntry).where(AuditEntry.stream == "case:12")).one()
    assert (entry.action, entry.subject, entry.actor) == ("document.issued", "case:12", "user:7")
    assert json.loads(entry.payload) == {
        "kind": "draw_record", "sha256": document.sha256, "title": "摇号记录", "reference": None,
    }
    assert verify(session) == []


def test_an_empty_document_is_refused(session, store, now):
    with pytest.raises(ValueError, match="empty"):
        issue(session, store, now, data=b"")
    assert documents_for(session, "case:12") == []


def test_documents_for_lists_a_subjects_documents_oldest_first(session, store, now):
    later = issue(session, store, now + timedelta(hours=1), title="成交确认书", data=b"second")
    first = issue(session, store, now, title="拍卖公告", data=b"first")
    issue(session, store, now, subject="case:13", data=b"other case")

    assert [d.id for d in documents_for(session, "case:12")] == [first.id, later.id]


def test_the_verification_page_shows_a_public_document(app, client, session, now):
    document = issue(session, file_store(app), now, title="拍卖成交裁定")

    response = client.get(f"/documents/{document.sha256}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "拍卖成交裁定" in page
    assert document.sha256 in page


def test_the_verification_page_404s_for_an_unknown_hash(client):
    assert client.get(f"/documents/{'0' * 64}").status_code == 404


def test_the_verification_page_404s_for_a_document_that_is_not_public(app, client, session, now):
    document = issue(session, file_store(app), now, public=False, data=b"sealed annex")
    assert client.get(f"/documents/{document.sha256}").status_code == 404


def test_a_rendered_pdf_is_verifiable_by_the_hash_of_the_stored_file(app, client, session, now):
    store = file_store(app)
    rendered = render_pdf("pdf/sample.html", sample_context(),
                          public_base_url=app.config["PUBLIC_BASE_URL"])
    document = issue(session, store, now, title="样本文书", data=rendered.data)

    sha = hashlib.sha256(store.read(document.sha256)).hexdigest()
    assert sha == rendered.sha256 == document.sha256
    response = client.get(f"/documents/{sha}")
    assert response.status_code == 200
    assert "样本文书" in response.get_data(as_text=True)
