"""The audit ledger: append-only, hash-chained, one chain per stream, anchored globally.

Every state-changing service calls :func:`record` inside its transaction. Each *stream* (a lot,
a case, the platform…) is its own chain, so appending to ``lot:1`` locks only that stream's head
row and never waits for ``lot:2`` (DESIGN.md §5). A periodic job (:func:`anchor_streams`) writes
the current heads of the streams that moved into one global chain of anchors, so removing the
tail of a stream after it was anchored is detected as well. ``flask --app wsgi audit verify``
runs :func:`verify` and names the first bad entry. See docs/decisions/0002-audit-ledger.md.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, UTCDateTime

GENESIS = "0" * 64
PLATFORM_STREAM = "platform"


class AuditStream(Base):
    """The head of one chain; its row is the lock taken to append to that stream."""

    __tablename__ = "audit_streams"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    head_seq: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    #: Highest seq of this stream already written into an anchor.
    anchored_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One recorded action. Never updated or deleted."""

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("stream", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(ForeignKey("audit_streams.name"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(120), index=True)
    subject: Mapped[str] = mapped_column(String(120), index=True)
    #: Canonical JSON of what changed. Never holds identity numbers or secrets.
    payload: Mapped[str] = mapped_column(Text)
    payload_digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditAnchor(Base):
    """A link of the global chain: the heads of the streams that moved since the last anchor."""

    __tablename__ = "audit_anchors"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Canonical JSON list of ``[stream, head_seq, head_hash]``.
    heads: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- pure hashing ------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *, stream: str, seq: int, actor: str, action: str, subject: str,
    payload_digest: str, at: datetime, prev_hash: str,
) -> str:
    """The hash that links an entry to its predecessor (every field is covered)."""
    return sha256_hex(canonical_json([
        stream, seq, actor, action, subject, payload_digest, _iso(at), prev_hash,
    ]))


def anchor_hash(*, seq: int, at: datetime, heads: str, prev_hash: str) -> str:
    return sha256_hex(canonical_json([seq, _iso(at), sha256_hex(heads), prev_hash]))


# --- appending ---------------------------------------------------------------------------


def _lock_stream(session: Session, name: str) -> AuditStream:
    """Lock the stream's head row for this transaction, creating it first if missing (the
    common case, an existing stream, costs one statement)."""
    locked = session.execute(select(AuditStream).where(AuditStream.name == name).with_for_update()).scalar_one_or_none()
    if locked is not None:
        return locked
    dialect = session.get_bind().dialect.name
    values = {"name": name, "head_seq": 0, "head_hash": GENESIS, "anchored_seq": 0}
    if dialect == "postgresql":
        session.execute(pg_insert(AuditStream).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(AuditStream).values(**values).on_conflict_do_nothing())
    else:  # pragma: no cover - only the two supported databases
        if session.get(AuditStream, name) is None:
            session.add(AuditStream(**values))
            session.flush()
    return session.execute(
        select(AuditStream).where(AuditStream.name == name).with_for_update()
    ).scalar_one()


def record(
    session: Session, *, stream: str, actor: str, action: str, subject: str,
    payload: dict | None = None, now: datetime,
) -> AuditEntry:
    """Append an entry to ``stream`` in the caller's transaction (the caller commits).

    Locks only that stream's head row, so unrelated streams never wait on each other.
    """
    return record_many(session, stream=stream, actor=actor, entries=[(action, subject, payload)], now=now)[0]


def record_many(
    session: Session, *, stream: str, actor: str, entries: list[tuple[str, str, dict | None]], now: datetime,
) -> list[AuditEntry]:
    """Append several ``(action, subject, payload)`` entries to ``stream`` in order, under one
    lock of its head row and one flush (the close of a round writes several fund movements)."""
    head = _lock_stream(session, stream)
    at = now.astimezone(timezone.utc)
    out = []
    for action, subject, payload in entries:
        entry = AuditEntry(**next_entry(stream=stream, head_seq=head.head_seq, head_hash=head.head_hash, actor=actor,
                                        action=action, subject=subject, payload=payload, now=at))
        session.add(entry)
        head.head_seq, head.head_hash, head.updated_at = entry.seq, entry.hash, at
        out.append(entry)
    session.flush()
    return out


def next_entry(*, stream: str, head_seq: int, head_hash: str, actor: str, action: str, subject: str,
               payload: dict | None, now: datetime) -> dict:
    """The ``audit_entries`` row that extends a stream whose head is ``(head_seq, head_hash)``
    (``(0, GENESIS)`` for a new stream): pure, so a caller holding the head's lock may write it
    with whatever statement suits it, and the stream's head becomes ``(seq, hash)``."""
    payload_text = canonical_json(payload or {})
    digest = sha256_hex(payload_text)
    seq, at = head_seq + 1, now.astimezone(timezone.utc)
    return {"stream": stream, "seq": seq, "actor": actor, "action": action, "subject": subject,
            "payload": payload_text, "payload_digest": digest, "at": at, "prev_hash": head_hash,
            "hash": entry_hash(stream=stream, seq=seq, actor=actor, action=action, subject=subject,
                               payload_digest=digest, at=at, prev_hash=head_hash)}


def append(session: Session, *, stream: str, actor: str, action: str, subject: str, payload: dict | None,
           now: datetime) -> int:
    """:func:`record` in three plain statements, for the hot path of a bid (no ORM unit of
    work: the bid's lock is held while it runs). The same chain; returns the entry's ``seq``.
    The caller's transaction must not hold the stream's head as an ORM object."""
    streams = AuditStream.__table__
    head = session.execute(select(streams.c.head_seq, streams.c.head_hash)
                           .where(streams.c.name == stream).with_for_update()).one_or_none()
    if head is None:
        head_row = _lock_stream(session, stream)
        head = (head_row.head_seq, head_row.head_hash)
        session.expunge(head_row)  # updated below without the ORM
    row = next_entry(stream=stream, head_seq=head[0], head_hash=head[1], actor=actor, action=action,
                     subject=subject, payload=payload, now=now)
    session.execute(AuditEntry.__table__.insert().values(**row))
    session.execute(streams.update().where(streams.c.name == stream)
                    .values(head_seq=row["seq"], head_hash=row["hash"], updated_at=row["at"]))
    return row["seq"]


def anchor_streams(session: Session, *, now: datetime) -> AuditAnchor | None:
    """Write the heads of every stream that moved since the last anchor into the global chain.

    Idempotent: with nothing new it writes nothing and returns ``None``. Commits.
    """
    last = session.execute(
        select(AuditAnchor).order_by(AuditAnchor.seq.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()
    moved = [
        [name, head_seq, head_hash]
        for name, head_seq, head_hash in session.execute(
            select(AuditStream.name, AuditStream.head_seq, AuditStream.head_hash)
            .where(AuditStream.head_seq > AuditStream.anchored_seq)
            .order_by(AuditStream.name)
        )
    ]
    if not moved:
        session.rollback()
        return None
    seq = (last.seq if last else 0) + 1
    prev = last.hash if last else GENESIS
    heads = canonical_json(moved)
    at = now.astimezone(timezone.utc)
    anchor = AuditAnchor(
        seq=seq, at=at, heads=heads, prev_hash=prev,
        hash=anchor_hash(seq=seq, at=at, heads=heads, prev_hash=prev),
    )
    session.add(anchor)
    # One executemany (psycopg pipelines it), not a round trip per stream: each updated stream's
    # row stays locked until the commit, and a bid writing that stream's head waits for it.
    streams = AuditStream.__table__
    session.connection().execute(
        update(streams).where(streams.c.name == bindparam("stream_name")).values(anchored_seq=bindparam("seq")),
        [{"stream_name": name, "seq": head_seq} for name, head_seq, _ in moved])
    session.commit()
    return anchor


# --- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One inconsistency found by :func:`verify`."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def verify(session: Session) -> list[Problem]:
    """Check every chain and every anchor; return the problems, first bad entry first.

    Detects a changed entry (hash or payload digest mismatch), a removed entry (gap in the
    sequence, broken link, or a head/anchor pointing past the end) and an inserted one (broken
    link or duplicate position).
    """
    problems: list[Problem] = []
    by_stream: dict[str, dict[int, str]] = {}
    heads = {s.name: s for s in session.scalars(select(AuditStream))}
    streams = sorted(set(heads) | set(session.scalars(select(AuditEntry.stream).distinct())))
    for name in streams:
        expected_seq, prev = 1, GENESIS
        seen: dict[int, str] = {}
        first_bad = None
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.stream == name).order_by(AuditEntry.seq, AuditEntry.id)
        ):
            where = f"audit entry #{e.id} (stream {e.stream}, seq {e.seq})"
            if e.seq != expected_seq:
                first_bad = first_bad or Problem(
                    where, f"expected seq {expected_seq}: an entry was removed or inserted"
                )
            elif sha256_hex(e.payload) != e.payload_digest:
                first_bad = first_bad or Problem(where, "payload does not match its digest (changed)")
            elif e.prev_hash != prev:
                first_bad = first_bad or Problem(
                    where, "does not link to the previous entry (removed or inserted before it)"
                )
            elif e.hash != entry_hash(
                stream=e.stream, seq=e.seq, actor=e.actor, action=e.action, subject=e.subject,
                payload_digest=e.payload_digest, at=e.at, prev_hash=e.prev_hash,
            ):
                first_bad = first_bad or Problem(where, "hash does not match its content (changed)")
            seen[e.seq] = e.hash
            expected_seq, prev = e.seq + 1, e.hash
        if first_bad:
            problems.append(first_bad)
        head = heads.get(name)
        last_seq = expected_seq - 1
        if head is None:
            problems.append(Problem(f"stream {name}", "entries exist but the stream head is missing"))
        elif not first_bad and (head.head_seq != last_seq or head.head_hash != prev):
            problems.append(Problem(
                f"stream {name}",
                f"head says seq {head.head_seq} but the chain ends at seq {last_seq}: "
                "entries were removed from the end or appended outside the ledger",
            ))
        by_stream[name] = seen
    prev = GENESIS
    expected = 1
    for anchor in session.scalars(select(AuditAnchor).order_by(AuditAnchor.seq)):
        where = f"audit anchor #{anchor.seq}"
        if anchor.seq != expected or anchor.prev_hash != prev or anchor.hash != anchor_hash(
            seq=anchor.seq, at=anchor.at, heads=anchor.heads, prev_hash=anchor.prev_hash
        ):
            problems.append(Problem(where, "the global chain of anchors is broken"))
            break
        for name, seq, h in json.loads(anchor.heads):
            if by_stream.get(name, {}).get(seq) != h:
                problems.append(Problem(
                    where, f"anchored head of stream {name} at seq {seq} no longer matches the ledger"
                ))
        expected, prev = anchor.seq + 1, anchor.hash
    return problems
