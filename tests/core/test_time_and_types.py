"""UTC-aware time through one column type, exact money columns, and the clock's parsing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from core.clock import ClockError, parse_duration, parse_instant
from core.db import Money, NaiveDatetimeError, UTCDateTime
from core.i18n import local_time

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def scratch(connection):
    md = MetaData()
    t = Table("scratch_times", md, Column("id", Integer, primary_key=True),
              Column("at", UTCDateTime), Column("amount", Money))
    md.create_all(connection)
    yield t
    md.drop_all(connection)


def test_a_shanghai_time_comes_back_as_the_same_instant_in_utc(connection, scratch):
    ten_am_shanghai = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
    connection.execute(insert(scratch).values(id=1, at=ten_am_shanghai))
    back = connection.execute(select(scratch.c.at)).scalar_one()
    assert back.tzinfo is not None and back.utcoffset() == timedelta(0)
    assert back == ten_am_shanghai and back.hour == 2


def test_naive_datetimes_are_refused(connection, scratch):
    with pytest.raises(StatementError) as info:
        connection.execute(insert(scratch).values(id=2, at=datetime(2026, 12, 1, 10, 0)))
    assert isinstance(info.value.orig, NaiveDatetimeError)


def test_money_columns_keep_exact_fen(connection, scratch):
    connection.execute(insert(scratch).values(id=3, amount=Decimal("1234567.89")))
    assert connection.execute(select(scratch.c.amount)).scalar_one() == Decimal("1234567.89")
    with pytest.raises(StatementError, match="never be a float"):
        connection.execute(insert(scratch).values(id=4, amount=0.1))


def test_times_are_shown_in_beijing_time():
    assert local_time(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)) == "2026-12-01 10:00:00"
    assert local_time(None) == ""


@pytest.mark.parametrize("text, delta", [
    ("3d", timedelta(days=3)), ("2h30m", timedelta(hours=2, minutes=30)), ("90s", timedelta(seconds=90)),
    ("1w 2d", timedelta(days=9)), ("5M", timedelta(minutes=5)),
])
def test_durations_for_the_clock_are_read(text, delta):
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "3", "-3d", "0d", "3 days", "d3", "3d x"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ClockError):
        parse_duration(text)


def test_instants_need_an_offset():
    assert parse_instant("2026-12-01T10:00+08:00") == datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
    with pytest.raises(ClockError):
        parse_instant("2026-12-01T10:00")
    with pytest.raises(ClockError):
        parse_instant("next tuesday")
