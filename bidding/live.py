"""Live updates of a round's bidding (A30: codes and bids shown in real time), served as
Server-Sent Events.

Events, each about one round and never about a person (decision 13: codes, amounts, times):

======  ===========================================================================
bid     an accepted bid: ``seq``, ``code``, ``amount``, ``at`` (server receipt), ``end_at``
end     the end moved (a bid in the last 5 minutes, A28; a resumption)
state   the round's state changed (bidding opened, 暂缓/中止, resumed); also the snapshot
        a stream starts with
close   the round is over: its final state, the sale price and the winning code (A34)
time    the platform clock moved (simulated clocks only): pages re-read the server time
======  ===========================================================================

How an event travels (DESIGN.md §4, STYLE.md 5: side effects after the commit):

* A service calls :func:`publish` inside its transaction. On PostgreSQL that is
  ``SELECT pg_notify('round_events', payload)``: the server delivers it only if and when the
  transaction commits, to every process listening. On SQLite the payload waits on the session
  and is handed to this process's hubs after the commit (dropped on a rollback).
* Each web process has one :class:`Hub` per app. On PostgreSQL it runs ONE listener thread on
  its own psycopg connection (``LISTEN round_events``), reconnecting with back-off; the hub fans
  each event out to the bounded queues of its streams.
* Every stream's generator (:func:`stream`) waits on its queue. While it waits, the hub
  *reconciles* at most once per ``LIVE_RECONCILE_SECONDS`` per process: one query over the
  rounds being watched, fanning out whatever the database holds that no event announced.
  That heals a notification lost while the listener reconnected, changes made by packages
  that cannot import this one (``auction`` opens, pauses and resumes rounds), and a separate
  scheduler process on SQLite. Streams drop duplicates by the bid's ``seq``.
* A stream starts with the bids after the client's ``Last-Event-ID`` (re-read from the
  database) and a snapshot, so a reconnecting page misses nothing.

Under gunicorn's gevent workers (``gunicorn.conf.py``) the threads, queues and sleeps here
are monkey-patched into greenlets, and psycopg notices the patched ``select`` and waits
cooperatively: one worker holds thousands of streams, none of them holding a database
connection while it waits.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import event as orm_event
from sqlalchemy import select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

from auction.models import Round
from auction.rules import RoundState
from bidding.models import Bid, Book

log = logging.getLogger(__name__)

#: The PostgreSQL channel every web process listens on.
CHANNEL = "round_events"
#: What services publish (``time`` and ``resync`` are the hub's own).
KINDS = frozenset({"bid", "end", "state", "close"})
S = RoundState
#: States in which something may still happen by itself: a page keeps its stream open.
LIVE_STATES = frozenset({S.ANNOUNCED, S.BIDDING, S.SUSPENDED, S.HALTED, S.VARIATION_ANNOUNCED, S.VARIATION_OPEN,
                         S.VARIATION_BIDDING})
#: Per-stream queue; a consumer that falls this far behind re-reads the database instead.
QUEUE_SIZE = 256
#: Bids re-sent in one query when a stream catches up.
BACKFILL_BATCH = 500
DEFAULTS = {"LIVE_KEEPALIVE_SECONDS": 15.0, "LIVE_RECONCILE_SECONDS": 2.0, "LIVE_MAX_STREAM_SECONDS": 1800.0,
            "LIVE_LISTENER_IDLE_SECONDS": 60.0}
_PENDING = "bidding_live_pending"


# --- the shape of events ---------------------------------------------------------------------------


def ms(at: datetime | None) -> int | None:
    """Milliseconds since the epoch (what the page's script computes with)."""
    return None if at is None else int(at.timestamp() * 1000)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def bid_data(*, seq: int, code: str, amount: Decimal, at: datetime, end_at: datetime, extended: bool,
             state: str) -> dict:
    """A ``bid`` event: what the public book shows of a bid, and the end after it."""
    return {"seq": seq, "code": code, "amount": str(amount), "at": _iso(at), "at_ms": ms(at), "end_at": _iso(end_at),
            "end_ms": ms(end_at), "extended": extended, "state": str(state)}


def view_data(*, state: str, start_at: datetime, end_at: datetime, closed: bool, seq: int, price: Decimal | None,
              leader: str | None, sale_price: Decimal | None = None, buyer_code: str | None = None) -> dict:
    """A round as the public sees it live (the snapshot, ``state`` and ``close`` events). The
    winning code appears only once the round is over (A34); never a count of registrants."""
    data = {"state": str(state), "start_at": _iso(start_at), "start_ms": ms(start_at), "end_at": _iso(end_at),
            "end_ms": ms(end_at), "closed": closed, "seq": seq, "price": None if price is None else str(price),
            "leader": leader}
    if closed:
        data["sale_price"] = None if sale_price is None else str(sale_price)
        data["buyer_code"] = buyer_code
    return data


def is_over(state: str, closed_at: datetime | None) -> bool:
    return closed_at is not None or RoundState(state) not in LIVE_STATES


def round_view(session: Session, round_id: int) -> dict | None:
    """The live view of a round read from the database (``None`` if it does not exist)."""
    row = session.execute(_view_query().where(Round.id == round_id)).one_or_none()
    return None if row is None else _view_of(row)


def _view_query():
    return (select(Round.id, Round.state, Round.start_at, Round.end_at, Round.closed_at, Round.sale_price,
                   Round.buyer_code, Book.bid_count, Book.current_price, Book.leader_code)
            .outerjoin(Book, Book.round_id == Round.id))


def _view_of(row) -> dict:
    return view_data(state=row.state, start_at=row.start_at, end_at=row.end_at, closed=is_over(row.state, row.closed_at),
                     seq=row.bid_count or 0, price=row.current_price, leader=row.leader_code,
                     sale_price=row.sale_price, buyer_code=row.buyer_code)


def _bid_event(round_id: int, b: Bid, *, end_at: datetime, state: str) -> Event:
    return Event(round_id, "bid", bid_data(seq=b.seq, code=b.code, amount=b.amount, at=b.received_at,
                                           end_at=b.extended_to or end_at, extended=b.extended_to is not None,
                                           state=state))


# --- publishing (called by services, inside their transaction) -------------------------------------


def publish(session: Session, round_id: int, kind: str, data: dict) -> None:
    """Announce ``kind`` about a round once the caller's transaction commits; nothing is
    announced if it rolls back. ``data`` holds codes, amounts and times only (decision 13).

    PostgreSQL: ``pg_notify`` inside the transaction (delivered at commit to every process);
    elsewhere: handed to this process's hubs after the commit.
    """
    send(session, [encode(round_id, kind, data)])


def encode(round_id: int, kind: str, data: dict) -> str:
    """The text of an event as it travels (``pg_notify``'s payload; the hubs parse it)."""
    if kind not in KINDS:
        raise ValueError(f"unknown live event {kind!r}")
    return json.dumps({"r": round_id, "k": kind, "d": data}, separators=(",", ":"), ensure_ascii=False,
                      default=_jsonable)


def send(session: Session, payloads: list[str]) -> None:
    r""":func:`publish` for events already :func:`encode`\ d. (The bid's hot path sends its
    events inside its single write statement on PostgreSQL: ``pg_notify(CHANNEL, payload)``.)"""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        for payload in payloads:
            session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})
        return
    session.connection()  # the events belong to the transaction in progress (begun if need be)
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        orm_event.listen(session, "after_commit", _deliver_pending)
        orm_event.listen(session, "after_transaction_end", _forget_pending)
    key = database_key(bind.engine.url)
    pending.extend((key, payload) for payload in payloads)


def bid_events(round_id: int, *, seq: int, code: str, amount: Decimal, at: datetime, end_at: datetime,
               extended: bool, state: str) -> list[str]:
    """The encoded events of an accepted bid: ``bid``, and ``end`` when it extended the round (A28)."""
    events = [encode(round_id, "bid", bid_data(seq=seq, code=code, amount=amount, at=at, end_at=end_at,
                                               extended=extended, state=state))]
    if extended:
        events.append(encode(round_id, "end", {"end_at": _iso(end_at), "end_ms": ms(end_at), "seq": seq}))
    return events


def publish_close(session: Session, rnd: Round, last_bid: Bid | None = None) -> None:
    """The ``close`` event: the outcome as the public lot page shows it after the close. The
    closer passes the round's last bid (the book's state), or ``None`` when nobody bid."""
    publish(session, rnd.id, "close", view_data(
        state=rnd.state, start_at=rnd.start_at, end_at=rnd.end_at, closed=True, seq=last_bid.seq if last_bid else 0,
        price=last_bid.amount if last_bid else None, leader=last_bid.code if last_bid else None,
        sale_price=rnd.sale_price, buyer_code=rnd.buyer_code))


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _deliver_pending(session: Session) -> None:
    items = list(session.info.get(_PENDING) or ())
    session.info.get(_PENDING, []).clear()
    for key, payload in items:
        for hub in _hubs_for(key):
            try:
                hub.deliver_payload(payload)
            except Exception:  # noqa: BLE001 - the commit happened; a live update must never undo it
                log.exception("live: could not deliver an event")


def _forget_pending(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed (delivered) or not
        session.info.get(_PENDING, []).clear()


def database_key(url: str | URL) -> str:
    """Which database a URL names, whatever its driver or password (hubs are found by it)."""
    u = make_url(url) if isinstance(url, str) else url
    backend = u.get_backend_name()
    if backend == "sqlite":
        db = u.database or ""
        return f"sqlite:{os.path.realpath(db) if db and db != ':memory:' else db}"
    return f"{backend}://{u.host or ''}:{u.port or ''}/{u.database or ''}"


# --- the hub: one per app per process ----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    round_id: int
    kind: str
    data: dict
    #: The JSON body without its closing ``,"now_ms":…}``, serialised once for every stream of
    #: this process (a worker holds ~1,000 streams: serialising per stream was 15 % of its CPU).
    _body: list = field(default_factory=list, compare=False, repr=False)

    def body_head(self) -> str:
        if not self._body:
            text = json.dumps({**self.data, "round_id": self.round_id}, separators=(",", ":"), ensure_ascii=False,
                              default=_jsonable)
            self._body.append(text[:-1])  # a race only serialises twice, identically
        return self._body[0]


class Subscription:
    """One stream's inbox: bounded; when it overflows the stream re-reads the database."""

    def __init__(self, round_id: int):
        self.round_id = round_id
        self.queue: queue.Queue[Event] = queue.Queue(maxsize=QUEUE_SIZE)
        self.overflowed = False

    def put(self, ev: Event) -> None:
        try:
            self.queue.put_nowait(ev)
        except queue.Full:
            self.overflowed = True

    def drain(self) -> None:
        self.overflowed = False
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass


_HUBS: dict[str, weakref.WeakSet] = {}
_HUBS_LOCK = threading.Lock()


def _hubs_for(key: str) -> list[Hub]:
    with _HUBS_LOCK:
        return list(_HUBS.get(key, ()))


def hub_for(app) -> Hub:
    """This process's hub for ``app`` (created on first use; it starts no thread until a
    stream subscribes on PostgreSQL)."""
    hub = app.extensions.get("bidding_live")
    if hub is not None:
        return hub
    with _HUBS_LOCK:
        hub = app.extensions.get("bidding_live")
        if hub is None:
            cfg = {k: float(app.config.get(k, v)) for k, v in DEFAULTS.items()}
            hub = Hub(url=app.config["DATABASE_URL"], session_factory=app.extensions["session_factory"],
                      clock=app.extensions["clock"], reconcile_every=cfg["LIVE_RECONCILE_SECONDS"],
                      keepalive=cfg["LIVE_KEEPALIVE_SECONDS"], max_age=cfg["LIVE_MAX_STREAM_SECONDS"],
                      listener_idle=cfg["LIVE_LISTENER_IDLE_SECONDS"])
            app.extensions["bidding_live"] = hub
            _HUBS.setdefault(hub.key, weakref.WeakSet()).add(hub)
            app.extensions["clock"].add_listener(hub.clock_moved)
    return hub


def shutdown(app) -> None:
    """Stop ``app``'s hub (its listener thread); tests and a clean process exit call it."""
    hub = app.extensions.pop("bidding_live", None)
    if hub is not None:
        hub.close()


class Hub:
    """Subscriptions per round, fan-out, reconciliation, and (PostgreSQL) the listener."""

    def __init__(self, *, url: str, session_factory, clock, reconcile_every: float, keepalive: float,
                 max_age: float, listener_idle: float):
        parsed = make_url(url)
        self.key = database_key(parsed)
        self.dialect = parsed.get_backend_name()
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False) \
            if self.dialect == "postgresql" else None
        self.session_factory = session_factory
        self.clock = clock
        self.reconcile_every = reconcile_every
        self.keepalive = keepalive
        self.max_age = max_age
        self.listener_idle = listener_idle
        self._lock = threading.Lock()
        self._subs: dict[int, set[Subscription]] = {}
        #: Per watched round, the view the hub last fanned out: what reconciling compares with.
        self._known: dict[int, dict] = {}
        self._reconcile_lock = threading.Lock()
        self._last_reconcile = float("-inf")
        self._reconcile_due = False
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        #: Set while the PostgreSQL listener holds a ``LISTEN`` (tests wait on it).
        self.listening = threading.Event()

    # -- subscriptions ---------------------------------------------------------------------
    def subscribe(self, round_id: int) -> Subscription:
        sub = Subscription(round_id)
        with self._lock:
            self._subs.setdefault(round_id, set()).add(sub)
        self._ensure_listener()
        return sub

    def seed(self, round_id: int, view: dict) -> None:
        """The first stream of a round tells the hub where the round stands (read after it
        subscribed, so nothing falls between)."""
        with self._lock:
            if round_id not in self._known and self._subs.get(round_id):
                self._known[round_id] = dict(view)

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.round_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.round_id]
                    self._known.pop(sub.round_id, None)

    def watching(self) -> int:
        """How many streams this process serves (for health pages and tests)."""
        with self._lock:
            return sum(len(s) for s in self._subs.values())

    # -- fan-out ---------------------------------------------------------------------------
    def deliver_payload(self, payload: str) -> None:
        """A published event arrives (after its commit)."""
        try:
            raw = json.loads(payload)
            ev = Event(int(raw["r"]), str(raw["k"]), dict(raw["d"]))
        except (ValueError, KeyError, TypeError):
            log.warning("live: ignored an unreadable event")
            return
        self.deliver(ev)

    def deliver(self, ev: Event) -> None:
        with self._lock:
            subs = list(self._subs.get(ev.round_id, ()))
            known = self._known.get(ev.round_id)
            if known is not None:
                _remember(known, ev)
        for sub in subs:
            sub.put(ev)

    def broadcast(self, kind: str, data: dict) -> None:
        """An event for every stream of this process (the clock moved)."""
        with self._lock:
            subs = [(rid, s) for rid, group in self._subs.items() for s in group]
        for rid, sub in subs:
            sub.put(Event(rid, kind, dict(data)))

    def clock_moved(self) -> None:
        """The simulated clock moved in this process: pages re-read the server time, and the
        next wait reconciles (rounds may have opened or closed)."""
        self._reconcile_due = True
        self.broadcast("time", {})

    # -- reconciling with the database ----------------------------------------------------------
    def request_reconcile(self) -> None:
        self._reconcile_due = True

    def maybe_reconcile(self) -> None:
        """Reconcile if the interval passed (at most one stream per process does it)."""
        if not self._reconcile_due and time.monotonic() - self._last_reconcile < self.reconcile_every:
            return
        if not self._reconcile_lock.acquire(blocking=False):
            return
        try:
            if not self._reconcile_due and time.monotonic() - self._last_reconcile < self.reconcile_every:
                return
            self._reconcile_due = False
            self._last_reconcile = time.monotonic()
            self.reconcile()
        except Exception:  # noqa: BLE001 - a failed check must not end the streams; the next one retries
            log.warning("live: reconciling with the database failed", exc_info=True)
        finally:
            self._reconcile_lock.release()

    def reconcile(self) -> None:
        """Fan out what the database holds beyond what the hub announced: missed bids (in
        order), then a changed end, state or the close."""
        with self._lock:
            known = {rid: dict(k) for rid, k in self._known.items() if self._subs.get(rid)}
        if not known:
            return
        with reading(self.session_factory) as session:
            rows = session.execute(_view_query().where(Round.id.in_(list(known)))).all()
            for row in rows:
                before, now = known[row.id], _view_of(row)
                if now["seq"] > before.get("seq", 0):
                    for b in session.scalars(select(Bid).where(Bid.round_id == row.id, Bid.seq > before.get("seq", 0))
                                             .order_by(Bid.seq).limit(BACKFILL_BATCH)):
                        self.deliver(_bid_event(row.id, b, end_at=row.end_at, state=row.state))
                if now["closed"]:
                    if not before.get("closed"):
                        self.deliver(Event(row.id, "close", now))
                    continue
                if now["state"] != before.get("state"):
                    self.deliver(Event(row.id, "state", now))
                elif now["end_ms"] != before.get("end_ms"):
                    self.deliver(Event(row.id, "end", {"end_at": now["end_at"], "end_ms": now["end_ms"],
                                                       "seq": now["seq"]}))

    # -- PostgreSQL: one listener thread per process -------------------------------------------------
    def _ensure_listener(self) -> None:
        if self._conninfo is None:
            return
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._stop.clear()
            self._listener = threading.Thread(target=self._listen, name="bidding-live-listener", daemon=True)
            self._listener.start()

    def _idle(self, since: float | None) -> float | None:
        """When the hub lost its last stream (``None`` while it has streams)."""
        with self._lock:
            if self._subs:
                return None
        return since if since is not None else time.monotonic()

    def _listen(self) -> None:
        import psycopg

        backoff = 0.5
        idle_since: float | None = None
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self.request_reconcile()  # anything committed while nobody listened
                    backoff = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.deliver_payload(note.payload)
                        idle_since = self._idle(idle_since)
                        if idle_since is not None and time.monotonic() - idle_since >= self.listener_idle:
                            with self._lock:
                                if not self._subs:
                                    self._listener = None
                                    self.listening.clear()
                                    return  # started again by the next stream
                            idle_since = None
            except (psycopg.Error, OSError) as exc:
                self.listening.clear()
                log.warning("live: listener lost its database connection (%s); reconnecting in %.1f s",
                            type(exc).__name__, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.listening.clear()

    def close(self) -> None:
        self._stop.set()
        listener = self._listener
        if listener is not None:
            listener.join(timeout=5)
        with _HUBS_LOCK:
            group = _HUBS.get(self.key)
            if group is not None:
                group.discard(self)


def _remember(known: dict, ev: Event) -> None:
    d = ev.data
    if ev.kind == "bid":
        known["seq"] = max(known.get("seq", 0), int(d["seq"]))
        known["price"], known["leader"] = d.get("amount"), d.get("code")
        known["end_ms"], known["state"] = d.get("end_ms", known.get("end_ms")), d.get("state", known.get("state"))
    elif ev.kind == "end":
        known["end_ms"] = d.get("end_ms")
    elif ev.kind == "state":
        known.update({k: d[k] for k in ("state", "end_ms") if k in d})
    elif ev.kind == "close":
        known["closed"], known["state"] = True, d.get("state", known.get("state"))


@contextmanager
def reading(session_factory) -> Iterator[Session]:
    """A short read-only session (on SQLite it must not take the write lock, see core.db)."""
    session = session_factory()
    try:
        if isinstance(session.get_bind(), Engine) and session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={"sqlite_read_only": True})
        yield session
    finally:
        session.close()


# --- the stream ------------------------------------------------------------------------------------------


def parse_last_id(value: str | None) -> int | None:
    """The last bid a client saw, from ``Last-Event-ID`` (``7`` or ``7.3``) or ``?after=``."""
    if not value:
        return None
    head = value.strip().split(".", 1)[0]
    if not head.isdigit() or len(head) > 12:
        return None
    return int(head)


def format_event(ev: Event, *, ident: str, now: datetime) -> str:
    """One SSE message; ``now_ms`` is the server's time as it is sent (the page's countdown
    follows the server's clock, not the visitor's)."""
    return f"id: {ident}\nevent: {ev.kind}\ndata: {ev.body_head()},\"now_ms\":{ms(now)}}}\n\n"


class _Cursor:
    """What one stream has sent, to drop duplicates and to find gaps."""

    def __init__(self, round_id: int, last_seq: int, view: dict):
        self.round_id = round_id
        self.seq = last_seq
        self.state = view["state"]
        self.end_ms = view["end_ms"]
        self.counter = 0

    def ident(self, kind: str) -> str:
        if kind == "bid":
            return str(self.seq)
        self.counter += 1
        return f"{self.seq}.{self.counter}"


def stream(hub: Hub, *, round_id: int, after: int | None) -> Iterator[str]:
    """The SSE stream of a round: ``retry``, the bids after ``after`` (re-read from the
    database), a snapshot (``state``, or ``close`` when the round is over), then live events
    and a keep-alive comment every ``keepalive`` seconds. Ends after the ``close`` event or
    after ``max_age`` (the browser reconnects with ``Last-Event-ID``)."""
    sub = hub.subscribe(round_id)
    try:
        with reading(hub.session_factory) as session:
            view = round_view(session, round_id)
            if view is None:
                return
            hub.seed(round_id, view)
            start = view["seq"] if after is None else min(after, view["seq"])
            backlog = _bids_after(session, round_id, start, upto=view["seq"], view=view)
        cursor = _Cursor(round_id, start, view)
        yield "retry: 3000\n\n"
        for ev in backlog:
            yield _send(hub, cursor, ev)
        snapshot = "close" if view["closed"] else "state"
        yield _send(hub, cursor, Event(round_id, snapshot, view))
        if view["closed"]:
            return
        started = last_write = time.monotonic()
        while True:
            wait = max(0.05, min(hub.keepalive - (time.monotonic() - last_write), hub.reconcile_every))
            try:
                ev = sub.queue.get(timeout=wait)
            except queue.Empty:
                ev = None
            if sub.overflowed or (ev is not None and ev.kind == "resync"):
                sub.drain()
                chunks, over = _catch_up(hub, cursor)
                for chunk in chunks:
                    yield chunk
                last_write = time.monotonic()
                if over:
                    return
                continue
            if ev is None:
                hub.maybe_reconcile()
                if time.monotonic() - last_write >= hub.keepalive:
                    yield ": keep-alive\n\n"
                    last_write = time.monotonic()
                if time.monotonic() - started >= hub.max_age:
                    return
                continue
            out = _handle(hub, cursor, ev)
            for chunk in out:
                yield chunk
            if out:
                last_write = time.monotonic()
            if ev.kind == "close":
                return
    finally:
        hub.unsubscribe(sub)


def _bids_after(session: Session, round_id: int, after: int, *, upto: int | None, view: dict) -> list[Event]:
    stmt = select(Bid).where(Bid.round_id == round_id, Bid.seq > after)
    if upto is not None:
        stmt = stmt.where(Bid.seq <= upto)
    end_at = datetime.fromtimestamp(view["end_ms"] / 1000, tz=timezone.utc)
    return [_bid_event(round_id, b, end_at=end_at, state=view["state"])
            for b in session.scalars(stmt.order_by(Bid.seq).limit(BACKFILL_BATCH * 20))]


def _send(hub: Hub, cursor: _Cursor, ev: Event) -> str:
    if ev.kind == "bid":
        cursor.seq = int(ev.data["seq"])
    if "end_ms" in ev.data and ev.data["end_ms"] is not None:
        cursor.end_ms = ev.data["end_ms"]
    if "state" in ev.data:
        cursor.state = ev.data["state"]
    return format_event(ev, ident=cursor.ident(ev.kind), now=hub.clock.now())


def _handle(hub: Hub, cursor: _Cursor, ev: Event) -> list[str]:
    """The chunks one queued event produces for this stream (none for a duplicate)."""
    if ev.kind == "bid":
        seq = int(ev.data["seq"])
        if seq <= cursor.seq:
            return []
        out = []
        if seq > cursor.seq + 1:  # a gap: fill it from the database first
            with reading(hub.session_factory) as session:
                view = round_view(session, cursor.round_id) or ev.data
                out += [_send(hub, cursor, b) for b in _bids_after(session, cursor.round_id, cursor.seq,
                                                                   upto=seq - 1, view=view)]
        return out + [_send(hub, cursor, ev)]
    if ev.kind == "end" and ev.data.get("end_ms") == cursor.end_ms:
        return []
    if ev.kind == "state" and ev.data.get("state") == cursor.state and ev.data.get("end_ms") == cursor.end_ms:
        return []
    return [_send(hub, cursor, ev)]


def _catch_up(hub: Hub, cursor: _Cursor) -> tuple[list[str], bool]:
    """After an overflow: the missed bids and a fresh snapshot from the database."""
    with reading(hub.session_factory) as session:
        view = round_view(session, cursor.round_id)
        if view is None:
            return [], True
        out = [_send(hub, cursor, b) for b in _bids_after(session, cursor.round_id, cursor.seq, upto=None, view=view)]
    out.append(_send(hub, cursor, Event(cursor.round_id, "close" if view["closed"] else "state", view)))
    return out, view["closed"]
