"""Migration 0007 (segment snapshots) on SQLite and PostgreSQL: constraints, down and up again;
and, on PostgreSQL with real commits, the row lock that keeps a live build from being taken over."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from telmark.db import configure_sqlite
from telmark.dbcli import alembic_config
from telmark.errors import Conflict
from telmark.segments.domain import SnapshotStatus
from telmark.segments.models import SegmentSnapshot
from telmark.segments.snapshots import store
from telmark.uow import UnitOfWork
from tests.conftest import POSTGRES_ENV
from tests.requirements import unavailable


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (migrations run here from scratch)."""
    if request.param == "sqlite":
        built = configure_sqlite(create_engine(f"sqlite:///{tmp_path / 'm.db'}"))
        yield built
        built.dispose()
        return
    yield from _postgres()


@pytest.fixture
def postgres() -> Iterator[Engine]:
    """An empty PostgreSQL schema of its own, whose commits are real."""
    yield from _postgres()


def _postgres() -> Iterator[Engine]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        unavailable("postgres", f"{POSTGRES_ENV} is not set")
    schema = f"telmark_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    built = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield built
    built.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _migrate(connection: Connection, revision: str, *, down: bool = False) -> None:
    config = alembic_config(str(connection.engine.url))
    config.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(config, revision)


SEGMENT = (
    "INSERT INTO segment (id, name, description, org_code, status, current_version, "
    "created_by, created_at, updated_at) VALUES (1, 's', '', 'P', 'active', 1, 'x', :t, :t)"
)
VERSION = (
    "INSERT INTO segment_version (segment_id, version, rule, note, created_by, created_at) "
    "VALUES (1, 1, '{}', '', 'x', :t)"
)
SNAPSHOT = (
    "INSERT INTO segment_snapshot (segment_id, version, as_of, data_date, org_code, status, "
    "member_count, file_path, sha256, byte_size, idempotency_key, created_by, created_at, "
    "completed_at) VALUES (1, :version, '2026-09-01', '2026-09-30', 'P', :status, :members, "
    "'segment-1/a.parquet', :sha, :size, :key, 'x', :t, :done)"
)
NOW = "2026-11-26 16:00:00+00:00"


def _snapshot(connection: Connection, **values: object) -> None:
    row = {
        "version": 1,
        "status": "ready",
        "members": 3,
        "sha": "0" * 64,
        "size": 10,
        "key": None,
        "t": NOW,
        "done": NOW,
    }
    row.update(values)
    with connection.begin_nested():
        connection.execute(text(SNAPSHOT), row)


def test_0007_guards_snapshots_and_downgrades_cleanly(engine: Engine) -> None:
    with engine.begin() as connection:
        _migrate(connection, "0006")
        connection.execute(text(SEGMENT), {"t": NOW})
        connection.execute(text(VERSION), {"t": NOW})
        _migrate(connection, "0007")
        _snapshot(connection, key="k")
        _snapshot(connection, status="building", members=None, sha=None, size=None, done=None)
        _snapshot(connection)  # several snapshots without a key
        for bad in (
            {"key": "k"},  # the key is unique per segment
            {"version": 2},  # no such rule version
            {"sha": None},  # ready without its checksum
            {"members": -1},
            {"status": "finished"},
        ):
            with pytest.raises(IntegrityError):
                _snapshot(connection, **bad)
        count = connection.execute(text("SELECT count(*) FROM segment_snapshot")).scalar()
        assert count == 3
    with engine.begin() as connection:
        _migrate(connection, "0006", down=True)
        assert "segment_snapshot" not in inspect(connection).get_table_names()
        assert connection.execute(text("SELECT count(*) FROM segment")).scalar() == 1
        _migrate(connection, "head")
        assert "segment_snapshot" in inspect(connection).get_table_names()


def test_a_live_build_is_neither_taken_over_nor_cleaned(postgres: Engine, tmp_path: Path) -> None:
    with postgres.begin() as connection:
        _migrate(connection, "head")
        connection.execute(text(SEGMENT), {"t": NOW})
        connection.execute(text(VERSION), {"t": NOW})
        _snapshot(connection, key="k", status="building", members=None, sha=None, size=None)
        snapshot_id = connection.execute(text("SELECT id FROM segment_snapshot")).scalar_one()
    factory = sessionmaker(bind=postgres, expire_on_commit=False)
    with postgres.connect() as builder:
        # Another process is building: it holds the row lock until it commits.
        builder.execute(
            text("SELECT id FROM segment_snapshot WHERE id = :id FOR UPDATE"), {"id": snapshot_id}
        )
        with UnitOfWork(factory) as uow, pytest.raises(Conflict, match="being built"):
            store._lock(uow, snapshot_id)
        with UnitOfWork(factory) as uow:
            store._abandon_stale(uow, tmp_path, 1)
            uow.commit()
        builder.rollback()  # the build ends (here: its process died)
    with UnitOfWork(factory) as uow:
        row = uow.session.get(SegmentSnapshot, snapshot_id)
        assert row is not None
        assert row.status is SnapshotStatus.BUILDING  # skipped while locked
        store._abandon_stale(uow, tmp_path, 1)
        uow.commit()
        cleaned = store._lock(uow, snapshot_id)  # free now
        assert cleaned.status is SnapshotStatus.FAILED
