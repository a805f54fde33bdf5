"""The migrations build exactly the schema the models describe (no drift)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.cli import import_models
from core.db import Base


def test_migrations_match_the_models(engine):
    import_models()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; run `flask --app wsgi db revision`: {diff}"
