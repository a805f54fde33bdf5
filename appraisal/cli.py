"""``flask --app wsgi appraisal verify-draw ID``: re-run a draw from the database."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

appraisal_cli = AppGroup("appraisal", help="Appraisal: draws.")


@appraisal_cli.command("verify-draw")
@click.argument("draw_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the public record as JSON.")
@with_appcontext
def verify_draw(draw_id: int, as_json: bool) -> None:
    """Recompute draw DRAW_ID from its stored inputs and check every hash; exit 1 if wrong."""
    from appraisal.draw import verify_record
    from appraisal.models import Draw
    from appraisal.services import draw_record

    with current_app.extensions["session_factory"]() as session:
        d = session.get(Draw, draw_id)
        if d is None:
            raise click.ClickException(f"no draw {draw_id}")
        record = draw_record(d)
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    if d.status != "drawn":
        raise click.ClickException(f"draw {draw_id} has not been drawn yet (status {d.status})")
    problems = verify_record(record)
    if problems:
        click.echo(f"DRAW {draw_id} DOES NOT VERIFY:", err=True)
        for p in problems:
            click.echo(f"  - {p}", err=True)
        sys.exit(1)
    click.echo(f"draw {draw_id} verifies: ranking {record['ranking']} from a pool of {len(record['pool'])}")
