"""Trigger ingestion end to end on a generated province: decisions and outbox rows committed
once per event (HTTP batches), and the Redis stream consumer, including a crash between
commit and acknowledgement."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.cases import planning
from telmark.cases import service as cases_service
from telmark.execution import service as outbox_service
from telmark.execution.models import OutboxMessage
from telmark.execution.schemas import TemplateIn
from telmark.execution.triggers import service, simulator
from telmark.execution.triggers.domain import EventType, Outcome
from telmark.execution.triggers.engine import Event
from telmark.execution.triggers.models import TriggerDecision
from telmark.execution.triggers.schemas import BatchRead, TriggerRuleIn
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.cases import CaseWorld, build_world, plan
from tests._factories.segments import load_warehouse, province_directory
from tests.requirements import unavailable

NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)  # noon in the province, inside the case's dates
REDIS_ENV = "TELMARK_TEST_REDIS_URL"
BODY = "尊敬的客户，{{ offer_name }}已为您预留，详询{{ city_name }}营业厅。"


@dataclass
class TriggerWorld:
    cases: CaseWorld
    case_id: int
    subscriber_ids: list[int]

    def runtime(self) -> service.Runtime:
        with UnitOfWork(self.cases.db) as uow:
            return service.load_runtime(uow=uow, con=self.cases.con, holdout_key="k", now=NOW)

    def ingest(self, runtime: service.Runtime, events: list[Event]) -> BatchRead:
        with UnitOfWork(self.cases.db) as uow:
            return service.ingest(
                uow=uow, con=self.cases.con, runtime=runtime, events=events, now=lambda: NOW
            )


def build_trigger_world(db: sessionmaker[Session], con: Any, directory: Path) -> TriggerWorld:
    """A running province case with an SMS template, reacting to low balances (no holdout)."""
    world = build_world(db, con, directory)
    with world.uow(world.planner) as uow:
        case_id = planning.create_case(
            uow=uow, spec=plan(world.province, world.province_snapshot, holdout_bp=0), **world.wh
        ).case.id
        cases_service.submit(uow=uow, case_id=case_id)
    with world.uow(world.approver) as uow:
        cases_service.approve(uow=uow, case_id=case_id, **world.wh)
    with world.uow(world.planner) as uow:
        cases_service.schedule(uow=uow, case_id=case_id)
        cases_service.start(uow=uow, case_id=case_id)
        outbox_service.set_template(
            uow=uow, case_id=case_id, channel="sms",
            spec=TemplateIn(body=BODY),
        )  # fmt: skip
        service.set_rule(
            uow=uow, case_id=case_id,
            spec=TriggerRuleIn(event_type=EventType.BALANCE_LOW, cooldown_days=0),
        )  # fmt: skip
    subscribers = con.table("subscribers")
    active = subscribers.filter(subscribers.status == "active").subscriber_id
    ids = [int(i) for i in active.to_pyarrow().to_pylist()]
    return TriggerWorld(world, case_id, ids)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("triggers")
    con = load_warehouse(province_directory(root, subscribers=600, seed=8), root / "w.duckdb")
    con.disconnect()
    return root / "w.duckdb"


@pytest.fixture
def world(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> Iterator[TriggerWorld]:
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    yield build_trigger_world(db, con, tmp_path / "snapshots")
    con.disconnect()


def low_balance(n: int, subscriber_id: int) -> Event:
    return Event(
        event_id=f"ev-{n}", event_type=EventType.BALANCE_LOW, occurred_at=NOW,
        payload={"balance_fen": 300}, subscriber_id=subscriber_id, received_at=NOW,
    )  # fmt: skip


def _count(db: sessionmaker[Session], model: Any) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_same_event_twice_is_decided_once(world: TriggerWorld) -> None:
    runtime = world.runtime()
    line = world.subscriber_ids[0]
    first = world.ingest(runtime, [low_balance(1, line), low_balance(1, line)])
    assert (first.decided, first.duplicates) == (1, 1)
    decision = first.decisions[0]
    assert decision.outcome is Outcome.CONTACT
    assert decision.channel == "sms"
    assert first.decisions[1].duplicate
    assert first.decisions[1].outcome is Outcome.CONTACT
    again = world.ingest(runtime, [low_balance(1, line)])
    assert (again.decided, again.duplicates) == (0, 1)
    assert _count(world.cases.db, TriggerDecision) == 1
    with world.cases.db() as session:
        (row,) = session.scalars(select(OutboxMessage)).all()
    assert row.key == f"trigger:ev-1:{world.case_id}"
    assert row.run_id is None
    assert row.trigger_decision_id is not None
    assert row.state == "planned"
    assert "已为您预留" in row.body
    assert "{{" not in row.body
    assert row.next_attempt_at == NOW  # noon: outside quiet hours


def test_a_new_engine_counts_the_stored_contacts(world: TriggerWorld) -> None:
    line = world.subscriber_ids[1]
    world.ingest(world.runtime(), [low_balance(1, line)])
    # The default policy allows one contact within two days: a fresh engine knows of it.
    later = world.ingest(world.runtime(), [low_balance(2, line)])
    assert later.decisions[0].reason is not None
    assert later.decisions[0].reason.value == "min_gap"
    assert _count(world.cases.db, OutboxMessage) == 1


def test_an_unknown_line_is_recorded_as_excluded(world: TriggerWorld) -> None:
    result = world.ingest(world.runtime(), [low_balance(1, 10**12)])
    assert result.decisions[0].outcome is Outcome.EXCLUDED
    assert result.decisions[0].reason is not None
    assert result.decisions[0].reason.value == "unknown_subscriber"
    assert _count(world.cases.db, OutboxMessage) == 0


# -- the Redis stream ------------------------------------------------------------------------


@pytest.fixture
def redis_client() -> Iterator[Any]:
    import redis

    url = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable("redis", f"cannot reach {url}: {error}")
    yield client
    client.close()


def _decider(world: TriggerWorld, runtime: service.Runtime) -> Any:
    return lambda events: world.ingest(runtime, list(events))


def _push(client: Any, stream: str, events: list[Event]) -> None:
    for event in events:
        client.xadd(stream, {"event": json.dumps(simulator.as_json(event))})


def test_the_consumer_commits_then_acknowledges(world: TriggerWorld, redis_client: Any) -> None:
    stream = f"test:triggers:{uuid.uuid4().hex}"
    try:
        events = [low_balance(i, s) for i, s in enumerate(world.subscriber_ids[:30])]
        _push(redis_client, stream, events)
        redis_client.xadd(stream, {"event": "{not json"})
        result = service.consume(
            client=redis_client, stream=stream, group="g", consumer="c1",
            decide=_decider(world, world.runtime()), batch=8, block_ms=5, max_events=31,
        )  # fmt: skip
        assert (result.read, result.decided, result.invalid) == (31, 30, 1)
        assert _count(world.cases.db, TriggerDecision) == 30
        assert redis_client.xpending(stream, "g")["pending"] == 0
        assert redis_client.xlen(f"{stream}:invalid") == 1
    finally:
        redis_client.delete(stream, f"{stream}:invalid")


def test_a_crash_before_the_ack_is_reclaimed_and_decided_once(
    world: TriggerWorld, redis_client: Any
) -> None:
    stream = f"test:triggers:{uuid.uuid4().hex}"
    try:
        events = [low_balance(i, s) for i, s in enumerate(world.subscriber_ids[:20])]
        _push(redis_client, stream, events)
        redis_client.xgroup_create(stream, "g", id="0")
        # Consumer 1 reads everything, commits the first 12 decisions and dies before XACK.
        answer = redis_client.xreadgroup("g", "c1", {stream: ">"}, count=100)
        read = [e for _name, found in answer for e in found]
        assert len(read) == 20
        world.ingest(world.runtime(), events[:12])
        assert redis_client.xpending(stream, "g")["pending"] == 20
        # Consumer 2 starts, reclaims the idle entries and decides the rest exactly once.
        result = service.consume(
            client=redis_client, stream=stream, group="g", consumer="c2",
            decide=_decider(world, world.runtime()), block_ms=5, claim_idle_ms=0,
            idle_stop_s=0.2,
        )  # fmt: skip
        assert (result.reclaimed, result.decided, result.duplicates) == (20, 8, 12)
        assert _count(world.cases.db, TriggerDecision) == 20
        assert _count(world.cases.db, OutboxMessage) == 20
        assert redis_client.xpending(stream, "g")["pending"] == 0
    finally:
        redis_client.delete(stream)
