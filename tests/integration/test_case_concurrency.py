"""Parallel actions on one case resolve to exactly one transition (optimistic locking).

Each thread has its own connection and UnitOfWork, as concurrent API requests do,
and all start together at a barrier. PostgreSQL only, for the reason given in
``test_offer_concurrency``: SQLite serialises writers with a database lock, so
there is no row-level race to test.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.cases import planning, service
from telmark.cases.access import get_case_row
from telmark.cases.domain import CaseStatus
from telmark.cases.models import CaseTransition
from telmark.cases.schemas import CaseRead, RejectIn
from telmark.errors import Conflict, InvalidTransition
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.cases import CaseWorld, build_world, plan
from tests._factories.segments import load_warehouse, province_directory
from tests.conftest import POSTGRES_ENV, _migrate
from tests.requirements import unavailable

RACERS = 12
T = TypeVar("T")


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        unavailable("postgres", f"{POSTGRES_ENV} is not set")
    schema = f"telmark_cases_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=RACERS + 5
    )
    with engine.begin() as connection:
        _migrate(connection)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def world(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseWorld]:
    root = tmp_path_factory.mktemp("case-race")
    con = load_warehouse(province_directory(root, subscribers=300, seed=9), root / "w.duckdb")
    con.disconnect()
    con = connect("duckdb://" + str(root / "w.duckdb"))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    yield build_world(factory, con, Path(root / "snapshots"))
    con.disconnect()


def _in_parallel(jobs: list[Callable[[], T]]) -> list[T | Exception]:
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], T]) -> T | Exception:
        barrier.wait()
        try:
            return job()
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            return error

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _draft(world: CaseWorld) -> int:
    with world.uow(world.planner) as uow:
        spec = plan(world.province, world.province_snapshot)
        return planning.create_case(uow=uow, spec=spec).case.id


def _timeline(db: sessionmaker[Session], case_id: int) -> list[str]:
    with UnitOfWork(db) as uow:
        return list(
            uow.session.scalars(
                select(CaseTransition.action)
                .where(CaseTransition.case_id == case_id)
                .order_by(CaseTransition.seq)
            )
        )


def test_parallel_submits_make_one_transition(world: CaseWorld) -> None:
    case_id = _draft(world)

    def submit() -> CaseRead:
        with world.uow(world.planner) as uow:
            return service.submit(uow=uow, case_id=case_id)

    results = _in_parallel([submit for _ in range(RACERS)])
    won = [r for r in results if isinstance(r, CaseRead)]
    # A racer that read the row before the winner committed loses the optimistic lock
    # (Conflict); one that read it after sees it submitted already (InvalidTransition).
    lost = [r for r in results if isinstance(r, Conflict | InvalidTransition)]
    assert len(won) == 1, results
    assert len(lost) == RACERS - 1, [r for r in results if not isinstance(r, CaseRead | Conflict)]
    assert won[0].status is CaseStatus.SUBMITTED
    assert _timeline(world.db, case_id) == ["create", "submit"]


def test_approve_racing_reject_resolves_to_one_decision(world: CaseWorld) -> None:
    case_id = _draft(world)
    with world.uow(world.planner) as uow:
        service.submit(uow=uow, case_id=case_id)

    def decide(i: int) -> Callable[[], CaseRead]:
        actor = Actor(username=f"approver{i}", scope_path=world.paths[world.province])

        def job() -> CaseRead:
            with world.uow(actor) as uow:
                if i % 2:
                    return service.reject(uow=uow, case_id=case_id, body=RejectIn(comment="否"))
                return service.approve(uow=uow, case_id=case_id)

        return job

    results = _in_parallel([decide(i) for i in range(RACERS)])
    won = [r for r in results if isinstance(r, CaseRead)]
    assert len(won) == 1, results
    assert sum(isinstance(r, Conflict | InvalidTransition) for r in results) == RACERS - 1
    actions = _timeline(world.db, case_id)
    assert actions[:2] == ["create", "submit"]
    assert len(actions) == 3
    assert actions[2] in {"approve", "reject"}


def test_a_change_read_before_another_commit_is_a_conflict(world: CaseWorld) -> None:
    """Deterministic: B reads version n, A commits n+1, B's UPDATE ... version = n matches
    nothing — the lock, not the status check, refuses B."""
    case_id = _draft(world)
    with world.uow(world.planner) as slow:
        stale = get_case_row(slow, case_id)
        assert stale.status is CaseStatus.DRAFT
        with world.uow(world.planner) as fast:
            service.submit(uow=fast, case_id=case_id)
        with pytest.raises(Conflict, match="changed by someone else"):
            service.submit(uow=slow, case_id=case_id)
    assert _timeline(world.db, case_id) == ["create", "submit"]
