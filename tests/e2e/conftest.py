"""Browser-test harness: the real application served on a free port, driven by Playwright.

* ``live_server``: a freshly migrated SQLite database in a temporary folder, the app built with
  :func:`core.create_app` (request sessions are real sessions, nothing is rolled back), served
  by werkzeug in a background thread. Yields the base URL.
* ``seeded_live_server``: the same over its own database that already holds the court 皖02 and
  an officer of it (for the officers' pages); yields a :class:`SeededServer`.
* ``browser``: Debian's Chromium (``/usr/bin/chromium``, or ``CHROMIUM_PATH``) launched by
  Playwright. Never ``playwright install``: it downloads a browser, which fails offline.
* ``page`` / ``new_page``: a desktop (or phone-sized) page that fails the test on a server
  error, a 5xx response or a JavaScript error; ``shot(page, name)`` saves a screenshot under
  ``test-artifacts/e2e/<test>/``.

Every test module here is marked ``e2e``; ``make test`` runs them apart (``-m e2e``). Without
Chromium they are skipped, except under CI, where they fail.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from core import create_app
from core.cli import upgrade_database
from tests.conftest import app_config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# As measured on Debian 12 (SETUP-NOTES.md): root needs --no-sandbox; the rest keep Chromium
# from calling home through a network that refuses it.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e ``e2e`` (before ``-m`` deselects)."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


class _ErrorLog(logging.Handler):
    """Collects the server's logged errors (the 500 handler logs every unhandled exception)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="session")
def server_errors() -> Iterator[list[logging.LogRecord]]:
    handler = _ErrorLog()
    logging.getLogger().addHandler(handler)
    yield handler.records
    logging.getLogger().removeHandler(handler)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, server_errors) -> Iterator[str]:
    """Serve the application on 127.0.0.1:<free port> over a new SQLite database."""
    folder = tmp_path_factory.mktemp("live-server")
    db_url = f"sqlite:///{folder / 'e2e.sqlite3'}"
    upgrade_database(db_url)
    app = create_app(app_config(db_url, folder / "instance"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["database"].dispose()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, through Playwright's bundled driver."""
    if not os.access(CHROMIUM, os.X_OK):
        message = (f"{CHROMIUM} not found: install Debian's chromium (make test does, as root) "
                   "or set CHROMIUM_PATH")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server, server_errors):
    """``new_page(viewport=PHONE)``: a page in its own browser context (own cookies).

    At teardown the test fails if the server logged an error, answered 5xx, or a page threw.
    """
    contexts = []
    problems: list[str] = []
    server_errors.clear()

    def on_response(response) -> None:
        if response.status >= 500:
            problems.append(f"{response.status} from {response.url}")

    def on_page_error(error) -> None:
        problems.append(f"JavaScript error: {error}")

    def make(viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN",
                                      timezone_id="Asia/Shanghai", base_url=live_server)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("response", on_response)
        page.on("pageerror", on_page_error)
        return page

    yield make
    for context in contexts:
        context.close()
    problems += [f"server error: {r.getMessage()}" for r in server_errors]
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(new_page):
    """A desktop-sized page (1280×860, locale zh-CN)."""
    return new_page()


@pytest.fixture
def shot(request):
    """``shot(page, "name")``: a full-page screenshot, numbered in the order taken."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    taken = []

    def take(page, name: str) -> Path:
        path = folder / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take


# --- a live server whose database already holds a court and its officer ------------------------


@dataclass(frozen=True)
class SeededServer:
    """A live server over its own database holding 安徽省芜湖市中级人民法院 (皖02) and one
    officer of it. ``session()`` opens a session on that database (close it after use)."""

    url: str
    app: Flask
    court_code: str
    officer_username: str
    officer_password: str
    officer_name: str

    def session(self) -> Session:
        return self.app.extensions["session_factory"]()


@contextmanager
def _serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:<free port> in a background thread (as ``live_server`` does)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-seeded-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def seeded_live_server(tmp_path_factory, server_errors) -> Iterator[SeededServer]:
    """Like ``live_server`` (its own freshly migrated SQLite database and app), with the court
    皖02 and an officer created the way a deployment creates them: the first administrator
    from the command line (``flask accounts create-admin``), then the court and the officer's
    login through :mod:`accounts.services`. Pages from ``page``/``new_page`` reach it by
    absolute URL (``page.goto(seeded.url + "/…")``); their error checks still apply."""
    from accounts import services
    from accounts.models import Role, User

    folder = tmp_path_factory.mktemp("seeded-live-server")
    db_url = f"sqlite:///{folder / 'e2e.sqlite3'}"
    upgrade_database(db_url)
    app = create_app(app_config(db_url, folder / "instance"))
    admin_password = "Guanliyuan-2026pass"
    result = app.test_cli_runner().invoke(
        args=["accounts", "create-admin", "e2e_admin", "--password", admin_password])
    assert result.exit_code == 0, result.output
    seeded = SeededServer(url="", app=app, court_code="皖02", officer_username="officer_wh",
                          officer_password="Zhixing-2026pass", officer_name="执行法官 李明")
    now = app.extensions["clock"].now()
    session = seeded.session()
    try:
        admin = session.scalar(select(User).where(User.username == "e2e_admin"))
        court = services.create_court(session, actor=admin, name="安徽省芜湖市中级人民法院",
                                      code=seeded.court_code, region_code="340200", now=now)
        services.create_staff(session, actor=admin, role=Role.OFFICER, username=seeded.officer_username,
                              password=seeded.officer_password, display_name=seeded.officer_name,
                              email="officer_wh@court.example", court_id=court.id, now=now)
    finally:
        session.close()
    try:
        with _serving(app) as url:
            yield replace(seeded, url=url)
    finally:
        app.extensions["database"].dispose()


# --- a live server on a simulated clock, with the platform's scheduler running -------------------


@dataclass(frozen=True)
class ClockedServer(SeededServer):
    """A :class:`SeededServer` whose app runs with ``CLOCK=simulated`` and a
    :class:`core.scheduler.PlatformScheduler` started in the server's process, so that moving
    the clock (``POST /api/v1/admin/clock`` with ``admin_token``) wakes the scheduler and the
    work that became due runs at once. ``now()`` is the platform time."""

    admin_username: str = ""
    admin_token: str = ""

    def now(self):
        return self.app.extensions["clock"].now()


@pytest.fixture
def clocked_live_server(tmp_path_factory, server_errors) -> Iterator[ClockedServer]:
    """A fresh database and app (per test: the simulated clock only moves forward) with the
    court 皖02, its officer, and an administrator holding an API token for the clock API; the
    scheduler runs in this process until the end of the test. Pages reach it by absolute URL,
    like ``seeded_live_server``."""
    from accounts import services
    from accounts.models import Role, User
    from core.scheduler import PlatformScheduler

    folder = tmp_path_factory.mktemp("clocked-live-server")
    db_url = f"sqlite:///{folder / 'e2e.sqlite3'}"
    upgrade_database(db_url)
    app = create_app(app_config(db_url, folder / "instance", CLOCK="simulated"))
    admin_password = "Guanliyuan-2026pass"
    result = app.test_cli_runner().invoke(
        args=["accounts", "create-admin", "e2e_admin", "--password", admin_password])
    assert result.exit_code == 0, result.output
    now = app.extensions["clock"].now()
    session = app.extensions["session_factory"]()
    try:
        admin = session.scalar(select(User).where(User.username == "e2e_admin"))
        court = services.create_court(session, actor=admin, name="安徽省芜湖市中级人民法院",
                                      code="皖02", region_code="340200", now=now)
        services.create_staff(session, actor=admin, role=Role.OFFICER, username="officer_wh",
                              password="Zhixing-2026pass", display_name="执行法官 李明",
                              email="officer_wh@court.example", court_id=court.id, now=now)
        token = services.issue_api_token(session, user=admin, name="e2e clock", now=now)
        session.commit()
    finally:
        session.close()
    scheduler = PlatformScheduler(app, name="e2e-scheduler")
    scheduler.start()
    try:
        with _serving(app) as url:
            yield ClockedServer(url=url, app=app, court_code="皖02", officer_username="officer_wh",
                                officer_password="Zhixing-2026pass", officer_name="执行法官 李明",
                                admin_username="e2e_admin", admin_token=token)
    finally:
        scheduler.shutdown()
        app.extensions["database"].dispose()
