"""Database plumbing: the declarative base, column types, engines and sessions.

* :class:`UTCDateTime` stores UTC and always returns aware datetimes, on SQLite (which drops
  offsets) and PostgreSQL alike.
* :class:`Money` is ``Numeric(14, 2)`` returning :class:`~decimal.Decimal`.
* Engines are created lazily per process and replaced after ``fork`` (a pool must never be
  shared between processes).
* SQLite runs with WAL, a busy timeout and ``BEGIN IMMEDIATE`` transactions, because pysqlite's
  deferred ``BEGIN`` makes concurrent writers fail with "database is locked".
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from decimal import Decimal
from functools import cache, wraps

from sqlalchemy import DateTime, MetaData, Numeric, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model; constraint names are deterministic for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class NaiveDatetimeError(ValueError):
    """A naive datetime reached the database layer; every time must carry its offset."""


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and read back as an aware UTC datetime.

    Refuses naive datetimes on the way in: a naive value is ambiguous (Shanghai or UTC?) and is
    exactly the bug this type exists to prevent.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"naive datetime {value!r}: attach a time zone")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Money(TypeDecorator):
    """An exact amount of yuan, ``Numeric(14, 2)``, always returned as ``Decimal``."""

    impl = Numeric(14, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must never be a float; use Decimal")
        return Decimal(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value).quantize(Decimal("0.01"))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of pysqlite's deferred one.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the lock up front; a connection marked ``sqlite_read_only`` (the clock's
        # offset read) must not, or it would wait on the request that is reading the clock.
        read_only = conn.get_execution_options().get("sqlite_read_only")
        conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine for ``url`` with the platform's connection settings."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        for name, value in DEFAULT_POOL.items():
            kwargs.setdefault(name, value)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return _lock_holder_class().connect(*cargs, **cparams)

    return engine


class Busy(RuntimeError):
    """The database could not do this now without waiting too long; nothing was changed, the
    client may retry (answered 503 with ``Retry-After``, like an exhausted pool)."""


_EXCLUSIVE: ContextVar[bool] = ContextVar("exclusive_database_waits", default=False)


@cache
def _lock_holder_class():
    """psycopg's ``Connection`` whose waits block the process instead of yielding to other
    greenlets while the current greenlet is inside :func:`exclusive_waits`. Built on first use:
    psycopg must not be imported in gunicorn's master (it picks its wait function at import,
    before the gevent workers patch ``select``)."""
    import psycopg
    from psycopg import waiting

    wait_c = getattr(waiting, "wait_c", None)  # absent without psycopg's C implementation

    class LockHolderConnection(psycopg.Connection):
        def wait(self, gen, interval=0.1, timeout=None):
            if wait_c is not None and _EXCLUSIVE.get():
                return wait_c(gen, self.pgconn.socket, interval, timeout)
            return super().wait(gen, interval=interval, timeout=timeout)

    return LockHolderConnection


@contextmanager
def exclusive_waits(exclusive: bool = True):
    """Inside, this greenlet's waits for PostgreSQL do not yield to the worker's other greenlets
    (decision 0012): under gevent each wait otherwise lets other requests take the CPU while a
    hot row lock, and every bid queued behind it, waits. Only for statements that cannot wait on
    a lock another greenlet of this process may hold while suspended (it could never resume):
    plain reads, and writes under a lock already granted whose rows no one else writes without
    it. ``exclusive=False`` (:func:`cooperative_waits`) makes a statement inside cooperative
    again. Per greenlet (a context variable); a no-op outside gevent and on SQLite."""
    token = _EXCLUSIVE.set(exclusive)
    try:
        yield
    finally:
        _EXCLUSIVE.reset(token)


def cooperative_waits():
    """Inside :func:`exclusive_waits`, a statement that may wait on another greenlet's lock."""
    return exclusive_waits(False)


def keeps_the_worker(view):
    """A view whose database waits are exclusive (:func:`exclusive_waits`) from its first
    statement, authentication included, to its end; its code marks with
    :func:`cooperative_waits` any statement that may wait on a lock."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        with exclusive_waits():
            return view(*args, **kwargs)

    return wrapped


#: Connections one process may open (``DB_POOL_SIZE``, ``DB_MAX_OVERFLOW``, ``DB_POOL_TIMEOUT``).
#: No overflow by default: a worker that wants more than its pool waits ``pool_timeout`` seconds,
#: then the request is answered 503 ("busy, try again"), instead of every worker opening
#: connections until PostgreSQL refuses them all (``max_connections``).
DEFAULT_POOL = {"pool_size": 10, "max_overflow": 0, "pool_timeout": 5.0}


def pool_settings(config) -> dict:
    """The engine's pool settings from a configuration mapping (defaults: :data:`DEFAULT_POOL`)."""
    # the scheduler's parallel closers (CLOSE_WORKERS, each its own session) and its main
    # session must never wait for one another's connections
    size = max(int(config.get("DB_POOL_SIZE", DEFAULT_POOL["pool_size"])), int(config.get("CLOSE_WORKERS", 4)) + 2)
    return {"pool_size": size,
            "max_overflow": int(config.get("DB_MAX_OVERFLOW", DEFAULT_POOL["max_overflow"])),
            "pool_timeout": float(config.get("DB_POOL_TIMEOUT", DEFAULT_POOL["pool_timeout"]))}


def connections_needed(*, web_workers: int, pool_size: int, max_overflow: int, close_workers: int) -> int:
    """The most connections a deployment opens: every web worker's full pool, the scheduler's
    two lanes (each a pool of its own: the parallel closers and one more), and the live
    listener of each web worker."""
    per_process = pool_size + max_overflow
    scheduler = 2 * max(per_process, close_workers + 1)
    return web_workers * (per_process + 1) + scheduler


def check_connection_budget(env, *, web_workers: int) -> None:
    """Raise :class:`RuntimeError` if ``web_workers`` web processes plus the scheduler may open
    more connections than the PostgreSQL server named by ``env["DATABASE_URL"]`` accepts
    (``max_connections`` less ``superuser_reserved_connections``). Nothing to check on SQLite."""
    url = env.get("DATABASE_URL") or ""
    if not url.startswith("postgresql"):
        return
    settings = pool_settings(env)
    needed = connections_needed(web_workers=web_workers, pool_size=settings["pool_size"],
                                max_overflow=settings["max_overflow"],
                                close_workers=int(env.get("CLOSE_WORKERS", "4")))
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            limit = int(conn.exec_driver_sql("SHOW max_connections").scalar_one())
            reserved = int(conn.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    finally:
        engine.dispose()
    if needed > limit - reserved:
        raise RuntimeError(
            f"{web_workers} web workers with DB_POOL_SIZE={settings['pool_size']} and "
            f"DB_MAX_OVERFLOW={settings['max_overflow']} (plus the scheduler) may open {needed} "
            f"connections; PostgreSQL accepts {limit - reserved}. Lower WEB_WORKERS or DB_POOL_SIZE, "
            f"or raise max_connections.")


class Database:
    """One engine and session factory per process for a database URL.

    The engine is built on first use and rebuilt in a child after ``fork`` so connection pools
    never cross processes.
    """

    def __init__(self, url: str, **engine_options):
        self.url = url
        self.engine_options = engine_options
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._factory: sessionmaker | None = None

    @property
    def engine(self) -> Engine:
        pid = os.getpid()
        if self._engine is None or self._pid != pid:
            with self._lock:
                if self._engine is None or self._pid != pid:
                    if self._engine is not None:
                        # Inherited from the parent: drop the pool without closing its sockets,
                        # which still belong to the parent.
                        self._engine.dispose(close=False)
                    self._engine = make_engine(self.url, **(self.engine_options if not self.url.startswith("sqlite") else {}))
                    self._factory = sessionmaker(self._engine, expire_on_commit=False)
                    self._pid = pid
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """Open a new session; the caller owns its lifetime (``with db.session() as s``)."""
        self.engine  # noqa: B018  (builds the factory for this process)
        assert self._factory is not None
        return self._factory()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


if __name__ == "__main__":  # ``python -m core.db check-budget WORKERS`` (gunicorn.conf.py's on_starting)
    import sys

    if sys.argv[1:2] != ["check-budget"] or len(sys.argv) != 3:
        sys.exit("usage: python -m core.db check-budget WORKERS")
    try:
        check_connection_budget(os.environ, web_workers=int(sys.argv[2]))
    except RuntimeError as exc:
        sys.exit(f"Error: {exc}")
