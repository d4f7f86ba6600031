"""Many parallel takers of one offer: stock and budget are never oversold.

Each worker thread has its own connection and UnitOfWork, as concurrent API
requests do, and all start together at a barrier. The database is a migrated
schema of its own (the shared ``db`` fixture is one connection in a rolled-back
transaction, which parallel sessions cannot share), dropped afterwards.

PostgreSQL only: SQLite serialises writers with one database lock, and a
transaction that has read before it writes fails at once with "database is
locked" (SQLITE_BUSY_SNAPSHOT in WAL mode, no busy wait) when another writer
committed first — so parallel takers there get errors rather than a fair
race, and there is no row-level concurrency to test.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from ibis.backends import BaseBackend
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from telmark.errors import Conflict
from telmark.offers import service
from telmark.offers.domain import EntryKind
from telmark.offers.models import Offer, OfferPool, PoolEntry
from telmark.offers.schemas import RedemptionRead, parse_offer
from telmark.offers.tools import NO_PRIZE
from telmark.uow import UnitOfWork
from tests._factories.offers import (
    TODAY,
    add_products,
    gift,
    lottery,
    offer_doc,
    red_packet,
    subscribers_warehouse,
)
from tests.conftest import POSTGRES_ENV, _migrate
from tests.requirements import unavailable

TAKERS = 40
T = TypeVar("T")


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        unavailable("postgres", f"{POSTGRES_ENV} is not set")
    schema = f"telmark_offers_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=TAKERS + 5
    )
    with engine.begin() as connection:
        _migrate(connection)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with UnitOfWork(factory) as uow:
        add_products(uow.session)
        uow.commit()
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _offer(factory: sessionmaker[Session], *tools: dict[str, Any]) -> str:
    code = f"C{uuid.uuid4().hex[:8]}"
    with UnitOfWork(factory) as uow:
        service.create_offer(uow=uow, spec=parse_offer(offer_doc(code, *tools)))
        service.activate_offer(uow=uow, code=code, today=TODAY)
    return code


def _in_parallel(jobs: list[Callable[[], T]]) -> list[T | Exception]:
    """Run every job on its own thread, all released together; results or errors, in order."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T | Exception:
        barrier.wait()
        try:
            return job()
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            return error

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _taker(
    factory: sessionmaker[Session], con: BaseBackend, code: str, subscriber: int, key: str
) -> Callable[[], RedemptionRead]:
    def job() -> RedemptionRead:
        with UnitOfWork(factory) as uow:
            return service.redeem(
                uow=uow, con=con, code=code, subscriber_id=subscriber, idempotency_key=key,
                today=TODAY,
            )  # fmt: skip

    return job


@pytest.fixture
def warehouses() -> Iterator[list[BaseBackend]]:
    # One DuckDB per worker: a DuckDB connection must not be shared by threads.
    cons = [
        subscribers_warehouse([(i, "C01") for i in range(1, TAKERS + 1)]) for _ in range(TAKERS)
    ]
    yield cons
    for con in cons:
        con.disconnect()


def _ledger_consistent(factory: sessionmaker[Session], code: str) -> dict[str, int]:
    """Remaining per pool, after checking total - remaining = reserves - releases per pool."""
    with UnitOfWork(factory) as uow:
        pools = uow.session.scalars(
            select(OfferPool).join(Offer, Offer.id == OfferPool.offer_id).where(Offer.code == code)
        ).all()
        for pool in pools:
            moved = dict(
                uow.session.execute(
                    select(PoolEntry.kind, func.sum(PoolEntry.quantity))
                    .where(PoolEntry.pool_id == pool.id)
                    .group_by(PoolEntry.kind)
                ).all()
            )
            taken = moved.get(EntryKind.RESERVE, 0) - moved.get(EntryKind.RELEASE, 0)
            assert pool.total - pool.remaining == taken, pool.key
        return {p.key: p.remaining for p in pools}


def _count_redemptions(factory: sessionmaker[Session], code: str) -> int:
    with UnitOfWork(factory) as uow:
        return len(service.list_redemptions(uow=uow, code=code, limit=1000))


def test_forty_takers_of_ten_gifts(
    factory: sessionmaker[Session], warehouses: list[BaseBackend]
) -> None:
    code = _offer(factory, gift(10))
    results = _in_parallel(
        [_taker(factory, warehouses[i], code, i + 1, f"{code}-{i}") for i in range(TAKERS)]
    )
    won = [r for r in results if isinstance(r, RedemptionRead)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 10
    assert len(refused) == TAKERS - 10, [
        r for r in results if not isinstance(r, RedemptionRead | Conflict)
    ]
    assert all("out of stock" in e.message for e in refused)
    assert _ledger_consistent(factory, code) == {"gift": 0}
    assert _count_redemptions(factory, code) == 10


def test_forty_takers_of_a_ten_packet_budget(
    factory: sessionmaker[Session], warehouses: list[BaseBackend]
) -> None:
    code = _offer(factory, red_packet(300, 3_000))
    results = _in_parallel(
        [_taker(factory, warehouses[i], code, i + 1, f"{code}-{i}") for i in range(TAKERS)]
    )
    assert sum(isinstance(r, RedemptionRead) for r in results) == 10
    assert sum(isinstance(r, Conflict) for r in results) == TAKERS - 10
    assert _ledger_consistent(factory, code) == {"red_packet": 0}


def test_forty_lottery_takers_of_three_prizes(
    factory: sessionmaker[Session], warehouses: list[BaseBackend]
) -> None:
    # Every draw picks the prize; only three can have it, the rest fall to no prize.
    code = _offer(factory, lottery(("phone", 1_000_000, 1_000, 3), budget_fen=100_000))
    results = _in_parallel(
        [_taker(factory, warehouses[i], code, i + 1, f"{code}-{i}") for i in range(TAKERS)]
    )
    reads = [r for r in results if isinstance(r, RedemptionRead)]
    assert len(reads) == TAKERS, [r for r in results if not isinstance(r, RedemptionRead)]
    outcomes = [r.draw.outcome for r in reads if r.draw is not None]
    assert outcomes.count("phone") == 3
    assert outcomes.count(NO_PRIZE) == TAKERS - 3
    assert _ledger_consistent(factory, code) == {"lottery": 97_000, "prize:phone": 0}
    with UnitOfWork(factory) as uow:
        assert all(
            service.replay_draw(uow=uow, draw_id=r.draw.id).matches
            for r in reads
            if r.draw is not None
        )


def test_one_key_sent_twenty_times_at_once_redeems_once(
    factory: sessionmaker[Session], warehouses: list[BaseBackend]
) -> None:
    code = _offer(factory, gift(10))
    results = _in_parallel(
        [_taker(factory, warehouses[i], code, 7, f"{code}-same") for i in range(20)]
    )
    reads = [r for r in results if isinstance(r, RedemptionRead)]
    assert len(reads) == 20, [r for r in results if not isinstance(r, RedemptionRead)]
    assert len({r.id for r in reads}) == 1
    assert sum(r.created for r in reads) == 1
    assert _ledger_consistent(factory, code) == {"gift": 9}
    assert _count_redemptions(factory, code) == 1


def test_one_subscriber_with_twenty_keys_holds_the_offer_once(
    factory: sessionmaker[Session], warehouses: list[BaseBackend]
) -> None:
    code = _offer(factory, gift(10))
    results = _in_parallel(
        [_taker(factory, warehouses[i], code, 9, f"{code}-{i}") for i in range(20)]
    )
    assert sum(isinstance(r, RedemptionRead) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 19
    assert _ledger_consistent(factory, code) == {"gift": 9}


def test_twenty_referees_of_one_referrer_reward_the_cap_once_each(
    factory: sessionmaker[Session], warehouses: list[BaseBackend]
) -> None:
    referral = {"tool": "referral", "referrer_reward_fen": 2_000, "referee_reward_fen": 1_000,
                "cap_per_referrer": 5}  # fmt: skip
    code = _offer(factory, referral)

    def taker(i: int) -> Callable[[], RedemptionRead]:
        def job() -> RedemptionRead:
            with UnitOfWork(factory) as uow:
                return service.redeem(
                    uow=uow, con=warehouses[i], code=code, subscriber_id=i + 1,
                    idempotency_key=f"{code}-{i}", referrer_id=TAKERS, today=TODAY,
                )  # fmt: skip

        return job

    results = _in_parallel([taker(i) for i in range(20)])
    reads = [r for r in results if isinstance(r, RedemptionRead)]
    assert len(reads) == 20, [r for r in results if not isinstance(r, RedemptionRead)]
    assert sum(bool(r.referrer_rewarded) for r in reads) == 5
    assert _ledger_consistent(factory, code) == {f"referrer:{TAKERS}": 0}
