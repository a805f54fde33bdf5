"""The close with the scheduler duplicated, absent, or replaced by a hand: whatever runs, each
round closes exactly once, never before its end, with the outcome its bids decide; its
documents are filed once (issue 6, "The close"). Real schedulers (``PlatformScheduler``
threads on apps of their own) against the configured database."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from auction.models import Round
from auction.rules import RoundState
from bidding import services
from bidding.models import Registration
from bidding.transcript import PUBLIC_KIND, SEALED_KIND
from core import create_app
from core.audit import AuditEntry
from core.models import Document, SchedulerHeartbeat
from core.scheduler import PlatformScheduler
from tests.bidding.test_races import bid, race  # noqa: F401  (the fixture)
from tests.conftest import app_config


@pytest.fixture
def apps(race, tmp_path):  # noqa: F811
    engine = race[0]
    made = []

    def make(name):
        app = create_app(app_config(engine.url.render_as_string(hide_password=False), tmp_path / "instance"))
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["database"].dispose()


TRANSCRIPTS = (PUBLIC_KIND, SEALED_KIND)


def two_bids(race):  # noqa: F811
    engine, round_id, bidders, ctx = race
    assert isinstance(bid(engine, bidders[0], round_id, Decimal("700000"), "a", ctx), services.Receipt)
    assert isinstance(bid(engine, bidders[1], round_id, Decimal("705000"), "b", ctx), services.Receipt)
    with Session(engine) as s:
        return s.scalar(select(Registration.code).where(Registration.user_id == bidders[1],
                                                        Registration.round_id == round_id))


def set_end(engine, round_id, end_at):
    with Session(engine) as s:
        s.execute(update(Round).where(Round.id == round_id).values(end_at=end_at))
        s.commit()


def wait_for(engine, predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Session(engine) as s:
            if predicate(s):
                return True
        time.sleep(0.1)
    return False


def closes(s, round_id):
    return s.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.stream == f"round:{round_id}", AuditEntry.action == "round.closed"))


def filed(s, kinds):
    return s.scalar(select(func.count()).select_from(Document).where(Document.kind.in_(kinds)))


def assert_closed_once_as_the_bids_decide(engine, round_id, winner_code):
    with Session(engine) as s:
        rnd = s.get(Round, round_id)
        assert rnd.state == RoundState.AWAITING_BALANCE
        assert rnd.buyer_code == winner_code and rnd.sale_price == Decimal("705000")
        assert rnd.closed_at >= rnd.end_at
        assert closes(s, round_id) == 1


def test_two_running_schedulers_close_the_round_once_at_its_end_and_file_its_documents_once(race, apps):  # noqa: F811
    engine, round_id, _, _ = race
    winner = two_bids(race)
    set_end(engine, round_id, datetime.now(timezone.utc) + timedelta(seconds=2))
    schedulers = [PlatformScheduler(apps(n), name=n) for n in ("one", "two")]
    for sched in schedulers:
        sched.start()
    try:
        assert wait_for(engine, lambda s: s.get(Round, round_id).closed_at is not None)
        # The confirmation (成交确认书) and the transcript (public and sealed) follow the close.
        assert wait_for(engine, lambda s: filed(s, ("confirmation",)) == 1 and filed(s, TRANSCRIPTS) == 2,
                        seconds=60)
        time.sleep(1.5)  # more sweeps by both: nothing more may happen
        with Session(engine) as s:
            acted = s.scalars(select(SchedulerHeartbeat.name).where(SchedulerHeartbeat.last_sweep_at.is_not(None))).all()
            documents = dict(s.execute(select(Document.kind, func.count()).group_by(Document.kind)).all())
    finally:
        for sched in schedulers:
            sched.shutdown()
    assert len(acted) == 1  # one leader acted; the other stood by
    assert_closed_once_as_the_bids_decide(engine, round_id, winner)
    assert documents["confirmation"] == 1
    assert documents[PUBLIC_KIND] == 1 and documents[SEALED_KIND] == 1


def test_with_no_scheduler_a_read_closes_the_round_and_a_late_scheduler_changes_nothing(race, apps):  # noqa: F811
    engine, round_id, bidders, ctx = race
    winner = two_bids(race)
    set_end(engine, round_id, datetime.now(timezone.utc) - timedelta(hours=1))  # ended while nothing ran
    late = bid(engine, bidders[2], round_id, Decimal("800000"), "late", ctx)
    assert isinstance(late, services.Refused)  # the bid itself refuses received_at >= end_at
    app = apps("web")
    book = app.test_client().get(f"/api/v1/rounds/{round_id}/book").json
    assert book["closed"] is True and book["buyer_code"] == winner
    assert_closed_once_as_the_bids_decide(engine, round_id, winner)
    sched = PlatformScheduler(apps("scheduler"), name="late")
    try:
        assert sched.sweep() >= 1  # the documents of the close; no second close
        assert wait_for(engine, lambda s: filed(s, ("confirmation",)) == 1)
        sched.sweep()
    finally:
        sched.leadership.release()
    assert_closed_once_as_the_bids_decide(engine, round_id, winner)
    with Session(engine) as s:
        assert filed(s, ("confirmation",)) == 1


def test_the_hand_command_closes_due_rounds_once(race, apps):  # noqa: F811
    engine, round_id, _, _ = race
    winner = two_bids(race)
    set_end(engine, round_id, datetime.now(timezone.utc) - timedelta(seconds=1))
    runner = apps("cli").test_cli_runner()
    assert "closed 1 round(s)" in runner.invoke(args=["rounds", "close-due"]).output
    assert "closed 0 round(s)" in runner.invoke(args=["rounds", "close-due"]).output
    assert_closed_once_as_the_bids_decide(engine, round_id, winner)
