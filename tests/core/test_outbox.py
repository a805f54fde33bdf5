"""Notifications are written with the change and sent only after it commits."""
from __future__ import annotations

from sqlalchemy import select

from core.models import OutboxMessage, OutboxStatus
from core.notify import MAX_ATTEMPTS, notify, send_pending


class RecordingMailer:
    def __init__(self, fail=False):
        self.sent, self.fail = [], fail

    def send(self, to, subject, body):
        if self.fail:
            raise ConnectionError("smtp down")
        self.sent.append((to, subject))


def test_a_rolled_back_change_sends_nothing(session, now):
    notify(session, email="a@example.org", subject="lot published", body="…", now=now)
    session.rollback()
    mailer = RecordingMailer()
    assert send_pending(session, mailer=mailer, now=now) == 0 and mailer.sent == []


def test_committed_messages_are_sent_exactly_once(session, now):
    notify(session, email="a@example.org", subject="one", body="…", now=now)
    notify(session, email="b@example.org", subject="two", body="…", now=now)
    session.commit()
    mailer = RecordingMailer()
    assert send_pending(session, mailer=mailer, now=now) == 2
    assert send_pending(session, mailer=mailer, now=now) == 0
    assert mailer.sent == [("a@example.org", "one"), ("b@example.org", "two")]
    assert {m.status for m in session.scalars(select(OutboxMessage))} == {OutboxStatus.SENT}


def test_a_failing_mail_server_is_recorded_and_retried_then_given_up(session, now):
    notify(session, email="a@example.org", subject="x", body="…", now=now)
    session.commit()
    for _ in range(MAX_ATTEMPTS):
        send_pending(session, mailer=RecordingMailer(fail=True), now=now)
    msg = session.scalars(select(OutboxMessage)).one()
    assert msg.status == OutboxStatus.FAILED and "smtp down" in msg.last_error
    assert msg.attempts == MAX_ATTEMPTS
