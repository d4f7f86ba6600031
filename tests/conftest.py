"""Fixtures shared by every test layer.

Operational-database tests take the ``db`` fixture, parametrised over SQLite
and PostgreSQL (``TELMARK_TEST_POSTGRES_URL``); each test runs inside an outer
transaction that is rolled back, so services may ``commit()`` freely.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from telmark.config import get_settings
from telmark.uow import UnitOfWork
from tests.requirements import unavailable

POSTGRES_ENV = "TELMARK_TEST_POSTGRES_URL"

# pytest-xdist workers inherit COLUMNS=80 from the controller; Rich would fix the CLI consoles'
# width from it when ``telmark.clikit`` is imported, and the CLI tests (which set COLUMNS per
# invocation) would see their messages wrapped at 80 columns.
os.environ.pop("COLUMNS", None)


@pytest.fixture(autouse=True)
def _isolated_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point every test at its own data dir so nothing touches ./telmark-data."""
    data_dir = tmp_path_factory.mktemp("telmark-data")
    monkeypatch.setenv("TELMARK_DATA_DIR", str(data_dir))
    for name in ("TELMARK_DATABASE_URL", "TELMARK_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _migrate(connection: Connection) -> None:
    from alembic import command

    from telmark.dbcli import alembic_config

    config = alembic_config(str(connection.engine.url))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_engine(path: Path) -> Engine:
    from telmark.db import configure_sqlite

    # check_same_thread off: API tests run routes on a worker thread over this connection.
    return configure_sqlite(
        create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    )


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated engine per backend for the whole session."""
    if request.param == "sqlite":
        engine = _sqlite_engine(tmp_path_factory.mktemp("db") / "test.db")
        with engine.begin() as connection:
            _migrate(connection)
        yield engine
        engine.dispose()
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        unavailable("postgres", f"{POSTGRES_ENV} is not set")
    # A schema of our own, so parallel runs against one database never collide.
    schema = f"telmark_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001 - any connection failure means "unavailable"
        admin.dispose()
        unavailable("postgres", f"cannot connect to {url}: {error}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    with engine.begin() as connection:
        _migrate(connection)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def db(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory bound to one connection whose outer transaction is rolled back."""
    connection = db_engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield factory
    outer.rollback()
    connection.close()


@pytest.fixture
def uow(db: sessionmaker[Session]) -> Iterator[UnitOfWork]:
    with UnitOfWork(db) as unit:
        yield unit
