"""Notifications: written to the outbox inside the transaction that caused them, sent after
commit by the scheduler (so a rolled-back change never sends a message)."""
from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def notify(
    session: Session, *, subject: str, body: str, now: datetime,
    user_id: int | None = None, email: str | None = None,
) -> OutboxMessage:
    """Queue a message in the caller's transaction; nothing is sent until it commits."""
    msg = OutboxMessage(
        user_id=user_id, email=email, subject=subject, body=body,
        status=OutboxStatus.PENDING, created_at=now,
    )
    session.add(msg)
    return msg


class LogMailer:
    """Development mailer: the message goes to the log (and stays in the outbox table)."""

    def send(self, to: str | None, subject: str, body: str) -> None:
        log.info("mail to %s: %s\n%s", to or "(in-app only)", subject, body)


class SMTPMailer:
    def __init__(self, config: dict):
        self.config = config

    def send(self, to: str | None, subject: str, body: str) -> None:
        if not to:
            return
        message = EmailMessage()
        message["From"] = self.config["MAIL_DEFAULT_SENDER"]
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.config["MAIL_SERVER"], self.config["MAIL_PORT"], timeout=20) as smtp:
            if self.config["MAIL_USE_TLS"]:
                smtp.starttls()
            if self.config["MAIL_USERNAME"]:
                smtp.login(self.config["MAIL_USERNAME"], self.config["MAIL_PASSWORD"])
            smtp.send_message(message)


def mailer_for(config: dict):
    return SMTPMailer(config) if config.get("MAIL_SERVER") else LogMailer()


def send_pending(session: Session, *, mailer, now: datetime, limit: int = 100) -> int:
    """Send committed pending messages; each is claimed under a row lock (skipping rows another
    sender holds), so two senders never send the same message twice. Commits per message."""
    sent = 0
    for _ in range(limit):
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        msg = session.scalars(stmt).first()
        if msg is None:
            session.rollback()
            break
        msg.attempts += 1
        try:
            mailer.send(msg.email, msg.subject, msg.body)
        except Exception as exc:  # noqa: BLE001 - record the failure on the row, do not crash
            msg.last_error = f"{type(exc).__name__}: {exc}"
            if msg.attempts >= MAX_ATTEMPTS:
                msg.status = OutboxStatus.FAILED
            session.commit()
            if msg.status == OutboxStatus.PENDING:
                break  # retry on a later run rather than spinning on a failing server
            continue
        msg.status, msg.sent_at, msg.last_error = OutboxStatus.SENT, now, None
        session.commit()
        sent += 1
    return sent
