"""The command line: demo data is idempotent, and `audit verify` passes on it and fails,
naming the entry, after a manual edit of one ledger row."""
from __future__ import annotations

from sqlalchemy import func, select, text

from accounts.models import User
from core.audit import AuditEntry


def test_seed_demo_is_idempotent_and_verify_passes_then_catches_an_edit(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Passw0rd-Demo" in first.output and "officer" in first.output
    users = session.scalar(select(func.count()).select_from(User))
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert session.scalar(select(func.count()).select_from(User)) == users
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries

    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "ledger ok" in ok.output

    anchored = runner.invoke(args=["audit", "anchor"])
    assert anchored.exit_code == 0 and "anchor #1" in anchored.output

    victim = session.scalars(select(AuditEntry).order_by(AuditEntry.id).offset(3)).first()
    session.execute(text("UPDATE audit_entries SET action = 'court.deleted' WHERE id = :id"),
                    {"id": victim.id})
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"first bad entry: audit entry #{victim.id}" in broken.output


def test_the_demo_rulebook_seeds_the_same_story_in_compressed_time(app_factory, session):
    app = app_factory(RULEBOOK="demo")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "first auction announced" in result.output and "sold for" in result.output
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
