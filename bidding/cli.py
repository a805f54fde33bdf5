"""``flask --app wsgi rounds close-due``: close by hand every round whose end has passed."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

rounds_cli = AppGroup("rounds", help="Auction rounds: the close.")


@rounds_cli.command("close-due")
@with_appcontext
def close_due() -> None:
    """Close every round whose end has passed (what the scheduler does every second; safe to
    run while it runs: each round closes exactly once)."""
    from bidding import services
    from core.context import context_for

    app = current_app._get_current_object()
    with app.extensions["session_factory"]() as session:
        n = services.run_due(session, context_for(app, session, app.extensions["clock"].now()),
                             clock=app.extensions["clock"])
    click.echo(f"closed {n} round(s)")
