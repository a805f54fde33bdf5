"""Shared fixtures.

The database under test is SQLite (a temporary file) unless ``TEST_DATABASE_URL`` names a
PostgreSQL server, in which case a fresh database is created for the run and dropped after.
Migrations (Alembic) build the schema once per run; each test runs inside one outer
transaction that is rolled back (SQLAlchemy 2's "join a session into an external transaction"
recipe), so services may commit freely.
"""
from __future__ import annotations

import os
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core.cli import upgrade_database
from core.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-not-for-production"


def _create_pg_database(server_url: str) -> tuple[str, str]:
    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"jap_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(server_url: str, name: str) -> None:
    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def new_database(tmp_dir: Path) -> tuple[str, callable]:
    """A freshly migrated database (SQLite file or PostgreSQL) and a function that drops it."""
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        url, name = _create_pg_database(server)
        upgrade_database(url)
        return url, lambda: _drop_pg_database(server, name)
    path = tmp_dir / f"db-{uuid.uuid4().hex[:8]}.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    return url, lambda: None


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    url, drop = new_database(tmp_path_factory.mktemp("db"))
    yield url
    drop()


@pytest.fixture(scope="session")
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def dialect(engine) -> str:
    return engine.dialect.name


@pytest.fixture
def connection(engine):
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    if outer.is_active:
        outer.rollback()
    conn.close()


def _session_on(conn) -> Session:
    return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(connection):
    """A session whose commits stay inside the test's rolled-back transaction."""
    s = _session_on(connection)
    yield s
    s.close()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


def app_config(db_url: str, instance: Path, **extra) -> dict:
    return {
        "ENV": "test",
        "TESTING": True,
        "DATABASE_URL": db_url,
        "SECRET_KEY": TEST_SECRET,
        "IDENTITY_KEY": "test-identity-key",
        "INSTANCE_PATH": str(instance),
        "FILES_DIR": str(instance / "files"),
        **extra,
    }


@pytest.fixture
def app_factory(db_url, connection, tmp_path):
    """Build an app whose request sessions join the test transaction; ``**overrides``."""
    from core import create_app

    def build(**overrides):
        cfg = app_config(db_url, tmp_path / "instance",
                         SESSION_FACTORY=lambda: _session_on(connection), **overrides)
        return create_app(cfg)

    return build


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def post_form(client):
    """``post_form(url, data, form_page=url)``: GET the form page for a CSRF token, then POST."""

    def post(url: str, data: dict, *, form_page: str | None = None, follow_redirects=False):
        page = client.get(form_page or url)
        token = csrf_from(page.get_data(as_text=True))
        return client.post(url, data={**data, "csrf_token": token}, follow_redirects=follow_redirects)

    return post


@pytest.fixture
def login(post_form):
    """``login(username, password)`` through the real login form; returns the response."""

    def do(username: str, password: str = "Passw0rd-Demo"):
        return post_form("/accounts/login", {"username": username, "password": password})

    return do


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test():
    """Collect garbage after every test, so a connection or file left open is reported by the
    test that leaked it (``filterwarnings = error`` turns it into that test's failure)."""
    yield
    import gc

    gc.collect()
