"""Bidding: deposits, anonymous bidder codes, bids under the round's lock, the close that
happens by itself, refunds."""
from __future__ import annotations


def init_app(app) -> None:
    from bidding import services
    from bidding.views import bp, register_pages
    from core.context import context_for
    from core.scheduler import DOCUMENTS, DueSource, register_due_source

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
        "bidding", lambda session, now: services.run_due(
            session, context_for(app, session, now), clock=app.extensions["clock"],
            new_session=app.extensions["session_factory"], workers=app.config["CLOSE_WORKERS"]),
        services.upcoming))
    from auction.services import issue_close_documents
    from bidding import transcript

    # The close's documents (confirmation or 流拍 record, transcripts) take from 0.2 s to seconds
    # to render: they are filed after the closes, in the scheduler's documents lane (its own
    # process in production), so rendering never delays a close.
    register_due_source(app, DueSource(
        "close-documents", lambda session, now: issue_close_documents(session, context_for(app, session, now)),
        lane=DOCUMENTS))
    register_due_source(app, DueSource(
        "transcripts", lambda session, now: transcript.issue_due_transcripts(session, context_for(app, session, now)),
        lane=DOCUMENTS))
    # The court's list of restricted persons (decision 19) and of staff and close relatives (A53).
    from bidding import restriction_views, restrictions_api
    from bidding.seed import seed_restrictions
    from core.api import register_paths as register_api_paths

    app.register_blueprint(restriction_views.bp)
    restriction_views.register_pages(app)
    app.register_blueprint(restrictions_api.bp)
    app.extensions["csrf"].exempt(restrictions_api.bp)
    register_api_paths(app, restrictions_api.OPENAPI_PATHS)
    app.extensions["seeders"].append(seed_restrictions)
