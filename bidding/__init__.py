"""Bidding: deposits, anonymous bidder codes, bids under the round's lock, the close that
happens by itself, refunds."""
from __future__ import annotations


def init_app(app) -> None:
    from bidding import services
    from bidding.views import bp, register_pages
    from core.context import context_for
    from core.scheduler import DueSource, register_due_source

    app.register_blueprint(bp)
    register_pages(app)
    from bidding import api
    from core.api import register_paths

    app.register_blueprint(api.bp)
    app.extensions["csrf"].exempt(api.bp)
    register_paths(app, api.OPENAPI_PATHS)
    from bidding.cli import rounds_cli

    app.cli.add_command(rounds_cli)
    register_due_source(app, DueSource(
        "bidding", lambda session, now: services.run_due(session, context_for(app, session, now)),
        services.upcoming))
    from auction.services import issue_close_documents
    from bidding import transcript

    # The close's documents (confirmation or 流拍 record, transcripts) take from 0.2 s to seconds
    # to render: they are filed after the closes, by due sources that run after them.
    register_due_source(app, DueSource(
        "close-documents", lambda session, now: issue_close_documents(session, context_for(app, session, now))))
    register_due_source(app, DueSource(
        "transcripts", lambda session, now: transcript.issue_due_transcripts(session, context_for(app, session, now))))
