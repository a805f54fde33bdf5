"""Command-line interface: ``flask --app wsgi <group> <command>``.

``db upgrade`` · ``clock show|advance|set`` · ``audit verify|anchor`` · ``scheduler run`` ·
``seed-demo`` · ``serve`` (development server with an in-process scheduler).
"""
from __future__ import annotations

import getpass
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from core.clock import ClockError, advance_clock, move_clock, parse_duration, parse_instant

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def import_models() -> None:
    """Import every package's models so the metadata is complete (Alembic, create_all)."""
    from core import PACKAGES

    importlib.import_module("core.models")
    importlib.import_module("core.audit")
    for name in PACKAGES:
        try:
            importlib.import_module(f"{name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.models":
                raise


def alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        cfg.attributes["database_url"] = url
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Apply migrations to ``url`` (used by the CLI, ``make run`` and the test setup)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001
        return "cli"


def _session():
    return current_app.extensions["session_factory"]()


db_cli = AppGroup("db", help="Database migrations.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    upgrade_database(current_app.config["DATABASE_URL"], revision)
    click.echo("database is at " + revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (developers only)."""
    from alembic import command

    command.revision(alembic_config(current_app.config["DATABASE_URL"]), message=message, autogenerate=True)


clock_cli = AppGroup("clock", help="Show or move the simulated clock (never in production).")


@clock_cli.command("show")
@with_appcontext
def clock_show() -> None:
    """Print the platform time and the simulated offset."""
    from core.i18n import local_time

    c = current_app.extensions["clock"]
    click.echo(f"mode: {c.mode}")
    click.echo(f"platform time: {c.now().isoformat()} ({local_time(c.now())} Asia/Shanghai)")
    click.echo(f"offset: {c.offset()}")


@clock_cli.command("advance")
@click.argument("duration")
@with_appcontext
def clock_advance(duration: str) -> None:
    """Move the clock forward by DURATION (e.g. 3d, 2h30m, 90s)."""
    c = current_app.extensions["clock"]
    try:
        with _session() as s:
            new = advance_clock(s, c, delta=parse_duration(duration), actor=_actor())
    except ClockError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"platform time is now {new.isoformat()}")


@clock_cli.command("set")
@click.argument("instant")
@with_appcontext
def clock_set(instant: str) -> None:
    """Move the clock forward to INSTANT (ISO 8601 with offset, e.g. 2026-12-01T10:00+08:00)."""
    c = current_app.extensions["clock"]
    try:
        with _session() as s:
            new = move_clock(s, c, target=parse_instant(instant), actor=_actor())
    except ClockError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"platform time is now {new.isoformat()}")


audit_cli = AppGroup("audit", help="The tamper-evident audit ledger.")


@audit_cli.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every chain and anchor; exit 1 naming the first bad entry if any."""
    from sqlalchemy import func, select

    from core.audit import AuditAnchor, AuditEntry, verify

    with _session() as s:
        problems = verify(s)
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
        anchors = s.scalar(select(func.count()).select_from(AuditAnchor))
    if problems:
        click.echo(f"LEDGER BROKEN: first bad entry: {problems[0]}", err=True)
        for p in problems[1:]:
            click.echo(f"  also: {p}", err=True)
        sys.exit(1)
    click.echo(f"ledger ok: {entries} entries, {anchors} anchors")


@audit_cli.command("anchor")
@with_appcontext
def audit_anchor() -> None:
    """Anchor the stream heads into the global chain now."""
    from core.audit import anchor_streams

    with _session() as s:
        a = anchor_streams(s, now=current_app.extensions["clock"].now())
    click.echo(f"anchor #{a.seq} written" if a else "nothing new to anchor")


scheduler_cli = AppGroup("scheduler", help="The scheduler process.")


@scheduler_cli.command("run")
@click.option("--lane", type=click.Choice(["all", "main", "documents"]), default="all", show_default=True,
              help="all: the main lane here and the documents lane in a child process (production).")
@with_appcontext
def scheduler_run(lane: str) -> None:
    """Run the scheduler in the foreground (production: one per deployment, others stand by).

    The documents lane (PDFs filed after a close) runs in a child process with its own
    leadership, so rendering never delays a close; the child is restarted if it dies."""
    from core.scheduler import MAIN, PlatformScheduler

    sched = PlatformScheduler(current_app._get_current_object(), blocking=True,
                              lane=MAIN if lane == "all" else lane)
    child = _DocumentsLane() if lane == "all" else None

    def _stop(*_):
        if child is not None:
            child.stop()
        sched.shutdown()

    signal.signal(signal.SIGTERM, _stop)
    if child is not None:
        child.start()
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        _stop()
    finally:
        if child is not None:
            child.stop()


class _DocumentsLane:
    """``scheduler run --lane documents`` as a supervised child process: same command line up
    to ``scheduler``, restarted (after a pause) when it exits while we run."""

    def __init__(self):
        argv = list(sys.argv)
        # The flask options this process was started with (``--app wsgi``…), run by this interpreter.
        options = argv[1:argv.index("scheduler")] if "scheduler" in argv else ["--app", "wsgi"]
        self.command = [sys.executable, "-m", "flask", *options, "scheduler", "run", "--lane", "documents"]
        self.proc = None
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="documents-lane", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def _spawn(self) -> None:
        self.proc = subprocess.Popen(self.command)

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            if self.proc is not None and self.proc.poll() is not None:
                click.echo(f"documents lane exited ({self.proc.returncode}); restarting", err=True)
                if self._stopping.wait(2.0):
                    return
                self._spawn()

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@scheduler_cli.command("tick")
@with_appcontext
def scheduler_tick() -> None:
    """Run everything due now once (if no other scheduler holds the lock)."""
    from core.scheduler import PlatformScheduler

    sched = PlatformScheduler(current_app._get_current_object())
    n = sched.sweep()
    sched.leadership.release()
    click.echo(f"processed {n} due items")


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Load demo data (idempotent: running it twice changes nothing)."""
    app = current_app._get_current_object()
    now = app.extensions["clock"].now()
    lines: list[str] = []
    with _session() as s:
        for seeder in app.extensions["seeders"]:
            lines += seeder(s, now=now, rulebook=app.extensions["rulebook"]) or []
    click.echo("demo data loaded")
    for line in lines:
        click.echo(line)


@click.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--no-scheduler", is_flag=True, help="Do not start the in-process scheduler.")
@with_appcontext
def serve(host: str, port: int, no_scheduler: bool) -> None:
    """Development server with the scheduler in the same process (no reloader)."""
    from core.scheduler import PlatformScheduler

    app = current_app._get_current_object()
    sched = None
    # Guard: under a reloader only the child serves; start the scheduler there only.
    if not no_scheduler and os.environ.get("WERKZEUG_RUN_MAIN") in (None, "true"):
        sched = PlatformScheduler(app)
        sched.start()
    from werkzeug.serving import run_simple

    try:
        # app.run() is ignored inside a `flask` command; serve with Werkzeug directly.
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if sched:
            sched.shutdown()


def init_app(app) -> None:
    for command in (db_cli, clock_cli, audit_cli, scheduler_cli, seed_demo, serve):
        app.cli.add_command(command)
