"""Browser-test harness: the real application served on a free port, driven by Playwright.

* ``live_server``: a freshly migrated SQLite database in a temporary folder, the app built with
  :func:`core.create_app` (request sessions are real sessions, nothing is rolled back), served
  by werkzeug in a background thread. Yields the base URL.
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
from pathlib import Path

import pytest
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
