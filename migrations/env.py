"""Alembic environment: the URL comes from the caller (tests, CLI) or the app's configuration."""
from __future__ import annotations

from alembic import context

from core.cli import import_models
from core.db import Base, make_engine

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    from core import create_app

    return create_app().config["DATABASE_URL"]


def run_migrations_online() -> None:
    import_models()
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
