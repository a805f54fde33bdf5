"""Issuing documents: store the bytes content-addressed, list them, record them in the ledger.

Rendering is not done here (see :mod:`core.pdf`): a use case renders the PDF from plain data,
then calls :func:`issue_document` with the bytes. Uploaded files (a signed scan, an appraisal
report) are issued the same way with their own media type.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import record
from core.files import FileStore
from core.models import Document


def issue_document(
    session: Session,
    *,
    store: FileStore,
    kind: str,
    title: str,
    subject: str,
    data: bytes,
    media_type: str = "application/pdf",
    public: bool,
    actor: str,
    now: datetime,
    reference: str | None = None,
    commit: bool = True,
) -> Document:
    """Store ``data``, add its :class:`~core.models.Document` row and a ``document.issued``
    ledger entry on the ``subject`` stream, and commit.

    ``subject`` is what the document belongs to (``case:12``, ``lot:3``); the case file lists
    documents by it. ``public`` documents can be looked up by anyone on
    ``/documents/<sha256>``.

    The bytes are written *before* the commit, although STYLE.md point 5 puts side effects
    after it: the store is content-addressed and idempotent, so a failed commit leaves at
    worst an unreferenced file, whereas storing after the commit could leave a committed row
    (and a ledger entry vouching for a hash) with no file behind it.

    :raise ValueError: for empty data.
    """
    if not data:
        raise ValueError("refusing to issue an empty document")
    sha256 = store.put(data)
    document = Document(
        kind=kind,
        title=title,
        reference=reference,
        sha256=sha256,
        size=len(data),
        media_type=media_type,
        subject=subject,
        public=public,
        created_at=now,
        created_by=actor,
    )
    session.add(document)
    record(
        session,
        stream=subject,
        actor=actor,
        action="document.issued",
        subject=subject,
        payload={"kind": kind, "sha256": sha256, "title": title, "reference": reference},
        now=now,
    )
    if commit:
        session.commit()
    else:
        session.flush()
    return document


def documents_for(session: Session, subject: str) -> list[Document]:
    """The documents issued for ``subject``, oldest first (the order of the case file)."""
    return list(
        session.scalars(
            select(Document)
            .where(Document.subject == subject)
            .order_by(Document.created_at, Document.id)
        )
    )
