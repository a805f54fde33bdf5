"""The connection budget: a worker's pool never overflows; when it is exhausted the request is
answered 503 (retry) and nothing changes; gunicorn refuses a deployment that could exceed
PostgreSQL's ``max_connections``."""
from __future__ import annotations

import pytest

from core import create_app
from core.db import check_connection_budget, connections_needed, pool_settings
from tests.conftest import app_config


def test_pool_settings_default_to_no_overflow():
    assert pool_settings({}) == {"pool_size": 10, "max_overflow": 0, "pool_timeout": 5.0}
    assert pool_settings({"DB_POOL_SIZE": "7", "DB_MAX_OVERFLOW": "1", "DB_POOL_TIMEOUT": "0.5"}) == {
        "pool_size": 7, "max_overflow": 1, "pool_timeout": 0.5}
    # never fewer than the scheduler's parallel closers and its own session need
    assert pool_settings({"DB_POOL_SIZE": "2", "CLOSE_WORKERS": "4"})["pool_size"] == 6


def test_connections_needed_counts_every_worker_pool_listener_and_both_scheduler_lanes():
    # 4 workers × (10 pooled + 1 listener) + 2 lanes × max(10, 4 closers + 1)
    assert connections_needed(web_workers=4, pool_size=10, max_overflow=0, close_workers=4) == 64
    # the old defaults (10 + 20 overflow) on 4 workers: past PostgreSQL's default of 100
    assert connections_needed(web_workers=4, pool_size=10, max_overflow=20, close_workers=4) == 184
    # many closers: the scheduler's lanes grow with them
    assert connections_needed(web_workers=1, pool_size=2, max_overflow=0, close_workers=9) == 3 + 20


def test_budget_is_not_checked_on_sqlite():
    check_connection_budget({"DATABASE_URL": "sqlite:///x.sqlite3"}, web_workers=1000)


def test_budget_against_the_real_server(db_url, dialect):
    if dialect != "postgresql":
        pytest.skip("max_connections is PostgreSQL's")
    env = {"DATABASE_URL": db_url, "DB_POOL_SIZE": "10"}
    check_connection_budget(env, web_workers=2)
    with pytest.raises(RuntimeError, match="max_connections"):
        check_connection_budget(env, web_workers=500)


def test_an_exhausted_pool_answers_503_and_changes_nothing(db_url, dialect, tmp_path):
    if dialect != "postgresql":
        pytest.skip("SQLite has no pool to exhaust (one writer at a time, busy_timeout)")
    app = create_app(app_config(db_url, tmp_path / "instance", DB_POOL_SIZE=1, DB_POOL_TIMEOUT=0.2,
                                LIVE_ENABLED=False))
    engine = app.extensions["database"].engine
    held = [engine.connect() for _ in range(engine.pool.size())]  # every connection busy elsewhere
    try:
        client = app.test_client()
        page = client.get("/auction/lots")
        api = client.get("/api/v1/rounds/1/book")
    finally:
        for conn in held:
            conn.close()
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "2"
    assert "平台繁忙" in page.get_data(as_text=True)  # Chinese by default; the catalogue once lacked it
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == 503
    assert app.test_client().get("/auction/lots").status_code == 200  # the connection is back
    app.extensions["database"].dispose()


def test_gunicorn_checks_the_budget_without_importing_the_driver_in_its_master(db_url, dialect):
    """psycopg chooses how to wait when it is imported: imported in gunicorn's master, before
    the gevent workers patch ``select``, it made every worker block on every database wait (the
    live listener then froze the worker for good). The check runs in a child process."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import runpy, sys; cfg = runpy.run_path('gunicorn.conf.py'); cfg['on_starting'](None); "
            "assert not {'psycopg', 'sqlalchemy'} & set(sys.modules), 'the master imported the driver'")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WEB_WORKERS")}
    env["DATABASE_URL"] = db_url if dialect == "postgresql" else "sqlite:///unused.sqlite3"
    ok = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "WEB_WORKERS": "2"},
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    if dialect == "postgresql":
        refused = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "WEB_WORKERS": "500"},
                                 capture_output=True, text=True)
        assert refused.returncode != 0 and "max_connections" in refused.stderr


def test_a_statement_that_gave_up_on_a_lock_answers_503_like_an_exhausted_pool(db_url, tmp_path):
    from core.db import Busy

    app = create_app(app_config(db_url, tmp_path / "instance", LIVE_ENABLED=False))

    def gave_up():
        raise Busy("a bid's write waited for a lock")

    app.add_url_rule("/api/v1/test-busy", view_func=gave_up)
    app.add_url_rule("/test-busy", view_func=gave_up)
    client = app.test_client()
    api = client.get("/api/v1/test-busy")
    page = client.get("/test-busy", headers={"Accept-Language": "zh-CN"})
    assert api.status_code == 503 and api.headers["Retry-After"] == "2"
    assert api.get_json()["error"]["code"] == 503
    assert page.status_code == 503 and "繁忙" in page.get_data(as_text=True)
