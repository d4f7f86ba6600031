"""Parallel price changes of one product: one version per start day, numbers without gaps.

Each worker has its own connection and UnitOfWork, as concurrent API requests
do, and all start together at a barrier; the product row is locked while the
next version is numbered (service._product). PostgreSQL only, for the reason
given in test_offer_concurrency: SQLite serialises writers itself.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import sessionmaker

from telmark.actor import Actor
from telmark.catalog import service
from telmark.catalog.schemas import ProductCreate, VersionCreate
from telmark.errors import DomainError
from telmark.uow import UnitOfWork
from tests.conftest import POSTGRES_ENV, _migrate
from tests.requirements import unavailable

WORKERS = 8
TODAY = date(2026, 11, 26)
PLANNER = Actor(username="planner", channel="web", scope_path="/P00/")


@pytest.fixture
def engine() -> Iterator[Engine]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        unavailable("postgres", f"{POSTGRES_ENV} is not set")
    schema = f"telmark_catalog_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=WORKERS + 2
    )
    with engine.begin() as connection:
        _migrate(connection)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_parallel_price_changes_never_duplicate_or_skip_versions(engine: Engine) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with UnitOfWork(factory, actor=PLANNER) as uow:
        service.create_product(
            uow=uow,
            spec=ProductCreate(
                code="BB300", name="家庭宽带300M", kind="broadband", family="broadband",
                version=VersionCreate(valid_from=date(2025, 1, 1), monthly_fee_fen=6_000,
                                      speed_mbps=300),
            ),
            today=TODAY,
        )  # fmt: skip
    barrier = threading.Barrier(WORKERS)

    def change(worker: int) -> str:
        # Half the workers retry the same change (same start day); the rest pick their own day.
        day = date(2026, 12, 1) if worker % 2 == 0 else date(2026, 12, 1 + worker)
        spec = VersionCreate(valid_from=day, monthly_fee_fen=5_000 + worker, speed_mbps=500)
        barrier.wait()
        with UnitOfWork(factory, actor=PLANNER) as uow:
            try:
                service.add_version(uow=uow, code="BB300", spec=spec, today=TODAY)
            except DomainError as error:
                return type(error).__name__
        return "saved"

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(change, range(WORKERS)))
    with UnitOfWork(factory) as uow:
        versions = service.get_product(uow=uow, code="BB300").versions
    saved = outcomes.count("saved")
    assert set(outcomes) <= {"saved", "CatalogInputInvalid"}
    assert [v.version for v in versions] == list(range(1, saved + 2))
    starts = [v.valid_from for v in versions]
    assert starts == sorted(set(starts))  # each later than the one before, none repeated
    assert versions[0].monthly_fee_fen == 6_000
