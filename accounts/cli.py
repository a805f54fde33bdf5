"""``flask --app wsgi accounts ...``: the first administrator and API tokens from the shell."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from accounts import rules, services
from accounts.models import Role, User
from core import audit

accounts_cli = AppGroup("accounts", help="Accounts: first administrator, API tokens.")


def _session():
    return current_app.extensions["session_factory"]()


@accounts_cli.command("create-admin")
@click.argument("username")
@click.option("--name", default="平台管理员", help="Display name.")
@click.option("--email", default=None)
@click.password_option()
@with_appcontext
def create_admin(username: str, name: str, email: str | None, password: str) -> None:
    """Create an administrator (the first one cannot be created from the web)."""
    problems = rules.password_problems(password, username=username)
    if problems:
        raise click.ClickException("password needs " + ", ".join(problems))
    now = current_app.extensions["clock"].now()
    with _session() as s:
        if s.scalar(select(User.id).where(User.username == username)):
            raise click.ClickException(f"user {username} exists")
        user = User(username=username, display_name=name, email=email, role=Role.ADMIN,
                    password_hash=generate_password_hash(password), active=True, failed_logins=0,
                    created_at=now)
        s.add(user)
        s.flush()
        audit.record(s, stream="platform", actor="cli", action="user.created",
                     subject=f"user:{user.id}", payload={"role": "admin", "username": username}, now=now)
        s.commit()
    click.echo(f"administrator {username} created")


@accounts_cli.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="What the token is for.")
@with_appcontext
def token(username: str, name: str) -> None:
    """Issue an API bearer token for USERNAME (shown once)."""
    with _session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username}")
        value = services.issue_api_token(s, user=user, name=name,
                                         now=current_app.extensions["clock"].now())
    click.echo(value)
