"""The audit ledger: hash chains per stream, anchors, and detection of tampering."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update

from core import audit
from core.audit import AuditEntry, AuditStream, anchor_streams, entry_hash, record, verify


def _fill(session, now, stream="lot:1", n=5):
    entries = [
        record(session, stream=stream, actor="user:1", action="bid.placed", subject=stream,
               payload={"amount": f"{1000 + i}.00", "i": i}, now=now + timedelta(seconds=i))
        for i in range(n)
    ]
    session.commit()
    return entries


def test_entries_chain_to_their_predecessor_per_stream(session, now):
    a = _fill(session, now, "lot:1", 3)
    b = _fill(session, now, "lot:2", 2)
    assert [e.seq for e in a] == [1, 2, 3] and [e.seq for e in b] == [1, 2]
    assert a[0].prev_hash == audit.GENESIS and a[1].prev_hash == a[0].hash
    assert b[0].prev_hash == audit.GENESIS
    assert session.get(AuditStream, "lot:1").head_hash == a[-1].hash
    assert verify(session) == []


def test_the_hash_covers_every_field(now):
    base = dict(stream="lot:1", seq=1, actor="user:1", action="x", subject="lot:1",
                payload_digest="ab" * 32, at=now, prev_hash=audit.GENESIS)
    h = entry_hash(**base)
    for key, other in [("stream", "lot:2"), ("seq", 2), ("actor", "user:2"), ("action", "y"),
                       ("subject", "lot:9"), ("payload_digest", "cd" * 32),
                       ("at", now + timedelta(microseconds=1)), ("prev_hash", "1" * 64)]:
        assert entry_hash(**{**base, key: other}) != h, key


def test_a_changed_payload_is_detected_and_named(session, now):
    entries = _fill(session, now)
    session.execute(update(AuditEntry).where(AuditEntry.id == entries[2].id)
                    .values(payload='{"amount":"1.00","i":2}'))
    problems = verify(session)
    assert problems and f"#{entries[2].id}" in str(problems[0]) and "changed" in str(problems[0])


def test_a_changed_field_with_recomputed_digest_is_detected(session, now):
    entries = _fill(session, now)
    session.execute(update(AuditEntry).where(AuditEntry.id == entries[1].id).values(actor="user:666"))
    problems = verify(session)
    assert problems and f"#{entries[1].id}" in str(problems[0])


def test_a_removed_entry_is_detected(session, now):
    entries = _fill(session, now)
    session.execute(delete(AuditEntry).where(AuditEntry.id == entries[2].id))
    problems = verify(session)
    assert problems and f"#{entries[3].id}" in str(problems[0]) and "removed or inserted" in str(problems[0])


def test_removing_the_last_entry_is_detected_by_the_stream_head(session, now):
    entries = _fill(session, now)
    session.execute(delete(AuditEntry).where(AuditEntry.id == entries[-1].id))
    problems = verify(session)
    assert problems and "stream lot:1" in str(problems[0]) and "removed from the end" in str(problems[0])


def test_an_inserted_entry_is_detected(session, now):
    entries = _fill(session, now)
    # Make room at seq 3 by shifting the later entries, then insert a forged, well-formed entry.
    for e in sorted(entries[2:], key=lambda e: -e.seq):
        session.execute(update(AuditEntry).where(AuditEntry.id == e.id).values(seq=e.seq + 1))
    forged_at = now + timedelta(seconds=1, milliseconds=500)
    digest = audit.sha256_hex("{}")
    h = entry_hash(stream="lot:1", seq=3, actor="user:9", action="bid.placed", subject="lot:1",
                   payload_digest=digest, at=forged_at, prev_hash=entries[1].hash)
    session.add(AuditEntry(stream="lot:1", seq=3, actor="user:9", action="bid.placed",
                           subject="lot:1", payload="{}", payload_digest=digest, at=forged_at,
                           prev_hash=entries[1].hash, hash=h))
    session.flush()
    problems = verify(session)
    assert problems and f"#{entries[2].id}" in str(problems[0]) and "does not link" in str(problems[0])


def test_an_entry_appended_outside_the_ledger_is_detected(session, now):
    entries = _fill(session, now)
    digest = audit.sha256_hex("{}")
    at = now + timedelta(minutes=1)
    h = entry_hash(stream="lot:1", seq=6, actor="user:9", action="x", subject="lot:1",
                   payload_digest=digest, at=at, prev_hash=entries[-1].hash)
    session.add(AuditEntry(stream="lot:1", seq=6, actor="user:9", action="x", subject="lot:1",
                           payload="{}", payload_digest=digest, at=at, prev_hash=entries[-1].hash, hash=h))
    session.flush()
    problems = verify(session)
    assert problems and "appended outside the ledger" in str(problems[0])


def test_anchors_chain_the_heads_and_catch_a_rewritten_tail(session, now):
    _fill(session, now, "lot:1", 3)
    _fill(session, now, "case:1", 2)
    first = anchor_streams(session, now=now + timedelta(minutes=1))
    assert first is not None and first.seq == 1
    assert anchor_streams(session, now=now + timedelta(minutes=2)) is None  # nothing new
    _fill(session, now + timedelta(minutes=3), "lot:1", 1)
    second = anchor_streams(session, now=now + timedelta(minutes=4))
    assert second.prev_hash == first.hash and '"lot:1",4' in second.heads and "case:1" not in second.heads
    assert verify(session) == []
    # Rewrite history consistently (drop the last entry of case:1 and fix its head): only the
    # anchor still remembers the old head.
    last = session.scalars(select(AuditEntry).where(AuditEntry.stream == "case:1")
                           .order_by(AuditEntry.seq.desc())).first()
    prev = session.scalars(select(AuditEntry).where(AuditEntry.stream == "case:1", AuditEntry.seq == 1)).one()
    session.execute(delete(AuditEntry).where(AuditEntry.id == last.id))
    session.execute(update(AuditStream).where(AuditStream.name == "case:1")
                    .values(head_seq=1, head_hash=prev.hash))
    problems = verify(session)
    assert problems and "anchor #1" in str(problems[0]) and "case:1" in str(problems[0])


def test_appending_to_one_stream_does_not_wait_for_another(engine, dialect, now):
    """Two lots never queue on one ledger lock (DESIGN.md §5): while a transaction holds the
    head of ``lot:A`` open, an append to ``lot:B`` commits at once."""
    if dialect != "postgresql":
        pytest.skip("row-level locking is a PostgreSQL property; SQLite serialises all writers")
    from sqlalchemy.orm import Session

    suffix = now.strftime("%H%M%S%f")
    a, b = f"lot:A{suffix}", f"lot:B{suffix}"
    with Session(engine) as s:
        record(s, stream=a, actor="t", action="x", subject=a, payload={}, now=now)
        record(s, stream=b, actor="t", action="x", subject=b, payload={}, now=now)
        s.commit()
    holder = Session(engine)
    record(holder, stream=a, actor="t", action="held", subject=a, payload={}, now=now)
    done = threading.Event()

    def other():
        with Session(engine) as s:
            s.execute(text("SET lock_timeout = '3s'"))
            record(s, stream=b, actor="t", action="free", subject=b, payload={}, now=now)
            s.commit()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    t.join(5)
    try:
        assert done.is_set(), "append to lot:B waited for the lock on lot:A"
    finally:
        holder.rollback()
        holder.close()
