from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from telmark.models import Base


def test_migrations_match_models(db_engine: Engine) -> None:
    """A model change without a migration fails here, on SQLite and PostgreSQL."""
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
