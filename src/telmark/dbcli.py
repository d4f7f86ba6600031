"""``telmark db``: Alembic migrations of the operational database."""

from __future__ import annotations

from importlib.resources import files

import typer
from alembic import command
from alembic.config import Config

from telmark.clikit import JsonOpt, console, print_json
from telmark.config import get_settings

app = typer.Typer(no_args_is_help=True)


def alembic_config(url: str | None = None) -> Config:
    """Alembic config pointing at the packaged migrations and the given (or configured) URL."""
    settings = get_settings()
    config = Config()
    config.set_main_option("script_location", str(files("telmark") / "migrations"))
    config.set_main_option("sqlalchemy.url", url or settings.resolved_database_url)
    return config


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    """Bring the operational database to ``revision`` (creating the SQLite file if needed)."""
    target = url or get_settings().resolved_database_url
    if target.startswith("sqlite") and url is None:
        get_settings().ensure_data_dir()
    command.upgrade(alembic_config(target), revision)


@app.command()
def upgrade(revision: str = typer.Argument("head"), json_output: JsonOpt = False) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    upgrade_database(revision=revision)
    if json_output:
        print_json({"upgraded_to": revision})
    else:
        console.print(f"database upgraded to {revision}")


@app.command()
def current(json_output: JsonOpt = False) -> None:
    """Show the database's current migration revision."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(get_settings().resolved_database_url)
    with engine.connect() as connection:
        rev = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    if json_output:
        print_json({"revision": rev})
    else:
        console.print(rev or "(empty database)")
