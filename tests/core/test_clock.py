"""The one clock: real in production, movable forward (never back) elsewhere, shared through
the database, with the CLI and the admin API."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import Role
from accounts.services import issue_api_token
from core.audit import AuditEntry
from core.clock import ClockError, advance_clock, move_clock
from core.models import ClockState
from tests.factories import make_user


@pytest.fixture
def sim_app(app_factory):
    return app_factory(CLOCK="simulated")


def test_a_real_clock_cannot_be_moved(app, session):
    with pytest.raises(ClockError, match="real"):
        advance_clock(session, app.extensions["clock"], delta=timedelta(days=1), actor="t")


def test_advancing_moves_platform_time_and_is_recorded(sim_app, session):
    c = sim_app.extensions["clock"]
    before = c.now()
    advance_clock(session, c, delta=timedelta(days=3), actor="user:1")
    after = c.now()
    assert timedelta(days=3) <= after - before < timedelta(days=3, seconds=5)
    assert session.get(ClockState, 1).offset_us >= timedelta(days=3) // timedelta(microseconds=1)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "clock.moved")).one()
    assert entry.actor == "user:1"


def test_the_clock_never_moves_back(sim_app, session):
    c = sim_app.extensions["clock"]
    advance_clock(session, c, delta=timedelta(days=2), actor="t")
    with pytest.raises(ClockError, match="forward"):
        move_clock(session, c, target=c.now() - timedelta(hours=1), actor="t")


def test_another_process_sees_the_moved_clock_through_the_database(sim_app, app_factory, session):
    advance_clock(session, sim_app.extensions["clock"], delta=timedelta(days=10), actor="t")
    other = app_factory(CLOCK="simulated").extensions["clock"]  # a fresh process's clock
    assert other.offset() >= timedelta(days=10)


def test_moving_the_clock_wakes_listeners(sim_app, session):
    woken = []
    c = sim_app.extensions["clock"]
    c.add_listener(lambda: woken.append(True))
    advance_clock(session, c, delta=timedelta(hours=1), actor="t")
    assert woken == [True]


def test_cli_advance_and_set(sim_app, session):
    runner = sim_app.test_cli_runner()
    result = runner.invoke(args=["clock", "advance", "3d"])
    assert result.exit_code == 0, result.output
    assert "platform time is now" in result.output
    result = runner.invoke(args=["clock", "set", "2020-01-01T00:00+08:00"])
    assert result.exit_code != 0 and "only moves forward" in result.output
    result = runner.invoke(args=["clock", "advance", "soon"])
    assert result.exit_code != 0 and "cannot read duration" in result.output


def test_admin_api_moves_the_clock_and_others_cannot(sim_app, session):
    admin = make_user(session, Role.ADMIN)
    officer = make_user(session, Role.OFFICER)
    admin_token = issue_api_token(session, user=admin, name="t", now=sim_app.extensions["clock"].now())
    officer_token = issue_api_token(session, user=officer, name="t", now=sim_app.extensions["clock"].now())
    client = sim_app.test_client()
    assert client.post("/api/v1/admin/clock", json={"advance": "1d"}).status_code == 401
    assert client.post("/api/v1/admin/clock", json={"advance": "1d"},
                       headers={"Authorization": f"Bearer {officer_token}"}).status_code == 403
    r = client.post("/api/v1/admin/clock", json={"advance": "1d"},
                    headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200 and r.json["offset_seconds"] >= 86400
    r = client.post("/api/v1/admin/clock", json={"set": "2001-01-01T00:00+08:00"},
                    headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 409 and "forward" in r.json["error"]["message"]
    r = client.post("/api/v1/admin/clock", json={"bogus": 1},
                    headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 400


def test_the_openapi_document_lists_the_clock_api(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.") and "/api/v1/admin/clock" in doc["paths"]
