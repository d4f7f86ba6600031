"""The dispatch worker against a fake channel: re-checks at send time, retries, receipts, claims.

Runs on SQLite and PostgreSQL; the clock is fake, so quiet hours and backoff are exact.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.consent.domain import Channel as ConsentChannel
from telmark.consent.domain import ConsentKind, Source
from telmark.consent.models import ConsentEntry
from telmark.execution.channels.base import Outcome, Receipt, ReceiptStatus
from telmark.execution.dispatch import DispatchConfig, Dispatcher, SmsReceipt, claim
from telmark.execution.domain import AttemptOutcome, OutboxState, RetryPolicy, outbox_key
from telmark.execution.models import OutboxAttempt, OutboxMessage
from telmark.targeting import service as targeting
from telmark.targeting.schemas import ContactPolicyIn
from telmark.uow import UnitOfWork
from tests._support.aio import run_async
from tests._support.outbox import (
    EPOCH,
    FakeChannel,
    add_case,
    add_outbox,
    add_run,
    list_row,
    number,
    text,
)

POLICY_FIELDS = set(ContactPolicyIn.model_fields)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def world(db: sessionmaker[Session], tmp_path: Path) -> tuple[int, int]:
    with db() as session:
        case_id = add_case(session)
        run_id = add_run(session, tmp_path / "lists", [list_row(case_id, "RENEW", 1)])
        session.commit()
    return run_id, case_id


def _dispatcher(
    db: sessionmaker[Session], channel: FakeChannel, clock: Clock, **config: object
) -> Dispatcher:
    settings = DispatchConfig(channel="sms", worker="w1", until_empty=True, idle=0.01, **config)  # type: ignore[arg-type]
    return Dispatcher(
        settings, channel, uow_factory=lambda: UnitOfWork(db), now=clock, jitter=lambda: 0.0
    )


def _states(db: sessionmaker[Session]) -> dict[str, int]:
    with db() as session:
        rows = session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        ).all()
    return {str(state): n for state, n in rows}


def test_every_row_is_sent_once_and_recorded(
    db: sessionmaker[Session], world: tuple[int, int]
) -> None:
    run_id, case_id = world
    with db() as session:
        add_outbox(session, run_id=run_id, case_id=case_id, count=250)
        session.commit()
    channel = FakeChannel()
    result = run_async(_dispatcher(db, channel, Clock(EPOCH), batch=100).run())
    assert result.sent == 250
    assert sorted(m.to for m in channel.sent) == sorted(number(i) for i in range(250))
    assert {m.body for m in channel.sent} == {text(i) for i in range(250)}
    assert _states(db) == {"sent": 250}
    with db() as session:
        attempts = session.scalars(select(OutboxAttempt)).all()
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.subscriber_id == 7))
    assert len(attempts) == 250
    assert {a.outcome for a in attempts} == {AttemptOutcome.ACCEPTED}
    assert row is not None
    assert row.provider_ids
    assert row.attempts == 1
    assert row.claimed_by is None


def test_an_opt_out_after_the_list_was_built_is_honoured_at_send_time(
    db: sessionmaker[Session], world: tuple[int, int]
) -> None:
    run_id, case_id = world
    with db() as session:
        add_outbox(session, run_id=run_id, case_id=case_id, count=5)
        # Recorded after the rows were loaded, before they are sent.
        session.add(
            ConsentEntry(
                msisdn=number(2), kind=ConsentKind.OPT_OUT, channel=ConsentChannel.SMS,
                source=Source.MANUAL, reason="客户来电退订", created_by="agent",
                created_at=EPOCH - timedelta(minutes=1),
            )
        )  # fmt: skip
        session.add(
            ConsentEntry(
                msisdn=number(3), kind=ConsentKind.OPT_OUT, channel=ConsentChannel.EMAIL,
                source=Source.MANUAL, reason="只退订邮件", created_by="agent",
                created_at=EPOCH - timedelta(minutes=1),
            )
        )  # fmt: skip
        session.commit()
    channel = FakeChannel()
    result = run_async(_dispatcher(db, channel, Clock(EPOCH)).run())
    assert sorted(m.to for m in channel.sent) == [number(i) for i in (0, 1, 3, 4)]
    assert result.suppressed == 1
    with db() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.address == number(2)))
    assert row is not None
    assert (row.state, row.reason, row.attempts) == (OutboxState.SUPPRESSED, "opt_out", 0)


def test_quiet_hours_defer_to_the_next_opening_without_a_state(
    db: sessionmaker[Session], world: tuple[int, int]
) -> None:
    run_id, case_id = world
    late = datetime(2026, 10, 5, 13, 30, tzinfo=UTC)  # 21:30 in the province: quiet
    with db() as session:
        add_outbox(session, run_id=run_id, case_id=case_id, count=3, due=late)
        session.commit()
    channel = FakeChannel()
    result = run_async(_dispatcher(db, channel, Clock(late)).run())
    assert channel.sent == []
    assert result.deferred == 3
    with db() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert {r.state for r in rows} == {OutboxState.PLANNED}
    # 08:00 the next morning, province time.
    assert {r.next_attempt_at for r in rows} == {datetime(2026, 10, 6, 0, 0, tzinfo=UTC)}
    # Once the window opens, they go.
    result = run_async(
        _dispatcher(db, channel, Clock(datetime(2026, 10, 6, 0, 1, tzinfo=UTC))).run()
    )
    assert result.sent == 3


def test_quiet_hours_are_those_of_the_policy_in_force_at_send_time(
    db: sessionmaker[Session], world: tuple[int, int]
) -> None:
    run_id, case_id = world
    early = datetime(2026, 10, 6, 0, 30, tzinfo=UTC)  # 08:30 in the province
    with db() as session:
        add_outbox(session, run_id=run_id, case_id=case_id, count=2, due=early)
        session.commit()
    # The rows were planned under 21:00–08:00; the province has since made it 20:00–09:00.
    with UnitOfWork(db) as uow:
        targeting.set_policy(
            uow=uow,
            spec=ContactPolicyIn.model_validate(
                {**targeting.get_policy(uow=uow).model_dump(include=POLICY_FIELDS),
                 "quiet_start": "20:00", "quiet_end": "09:00"}
            ),
        )  # fmt: skip
    channel = FakeChannel()
    result = run_async(_dispatcher(db, channel, Clock(early)).run())
    assert (channel.sent, result.deferred) == ([], 2)
    with db() as session:
        due = set(session.scalars(select(OutboxMessage.next_attempt_at)))
    assert due == {datetime(2026, 10, 6, 1, 0, tzinfo=UTC)}  # 09:00 province time


def test_transient_failures_back_off_then_fail_after_max_attempts(
    db: sessionmaker[Session], world: tuple[int, int]
) -> None:
    run_id, case_id = world
    with db() as session:
        add_outbox(session, run_id=run_id, case_id=case_id, count=2)
        session.commit()
    flaky = outbox_key(run_id=run_id, case_id=case_id, subscriber_id=0, channel="sms")
    broken = outbox_key(run_id=run_id, case_id=case_id, subscriber_id=1, channel="sms")
    channel = FakeChannel(
        {flaky: [Outcome.TRANSIENT, Outcome.ACCEPTED], broken: [Outcome.TRANSIENT] * 5}
    )
    clock = Clock(EPOCH)
    retry = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), cap=timedelta(minutes=1))
    first = run_async(_dispatcher(db, channel, clock, retry=retry).run())
    assert (first.retried, first.sent) == (2, 0)
    with db() as session:
        due = set(session.scalars(select(OutboxMessage.next_attempt_at)))
    # jitter 0 → half the exponential bound: 10 s × 2⁰ / 2.
    assert due == {EPOCH + timedelta(seconds=5)}
    clock.at = EPOCH + timedelta(seconds=5)
    second = run_async(_dispatcher(db, channel, clock, retry=retry).run())
    assert (second.sent, second.retried) == (1, 1)
    with db() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.key == broken))
    assert row is not None
    assert row.next_attempt_at == clock.at + timedelta(seconds=10)  # 10 s × 2¹ / 2
    clock.at += timedelta(seconds=10)
    third = run_async(_dispatcher(db, channel, clock, retry=retry).run())
    assert third.failed == 1
    with db() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.key == broken))
        assert row is not None
        outcomes = session.scalars(
            select(OutboxAttempt.outcome)
            .where(OutboxAttempt.outbox_id == row.id)
            .order_by(OutboxAttempt.attempt_no)
        ).all()
    assert (row.state, row.attempts) == (OutboxState.FAILED, 3)
    assert outcomes == [AttemptOutcome.TRANSIENT] * 3
    assert [m.to for m in channel.sent].count(number(1)) == 3


def test_receipts_settle_rows_and_in_doubt_rows_are_confirmed_or_resent(
    db: sessionmaker[Session], world: tuple[int, int]
) -> None:
    run_id, case_id = world
    with db() as session:
        add_outbox(session, run_id=run_id, case_id=case_id, count=4)
        session.commit()
    clock = Clock(EPOCH)
    channel = FakeChannel()
    run_async(_dispatcher(db, channel, clock).run())
    channel.receipts.put_nowait(Receipt("id1", ReceiptStatus.DELIVERED, EPOCH))
    channel.receipts.put_nowait(Receipt("id2", ReceiptStatus.FAILED, EPOCH))
    # Rows 2 and 3 were being sent by a worker that died: state sending, lease expired.
    with db() as session:
        for i in (2, 3):
            row = session.scalar(select(OutboxMessage).where(OutboxMessage.subscriber_id == i))
            assert row is not None
            row.state, row.claimed_by = OutboxState.SENDING, "dead"
            row.claimed_until, row.sent_at, row.provider_ids = EPOCH, None, None
        session.commit()
    # The SMSC's receipt for row 2 reaches the new session; row 3 never reached the SMSC.
    channel.receipts.put_nowait(
        SmsReceipt("x9", ReceiptStatus.DELIVERED, EPOCH, address=number(2), text=text(2)[:20])
    )
    clock.at = EPOCH + timedelta(seconds=1)
    grace = timedelta(seconds=2)
    sent_before = len(channel.sent)
    worker = _dispatcher(db, channel, clock, in_doubt_grace=grace)
    run_async(worker.round())
    assert len(channel.sent) == sent_before  # nothing resent inside the grace period
    clock.at += grace
    result = run_async(worker.run())
    assert (result.confirmed, result.lost) == (1, 1)
    assert [m.to for m in channel.sent[sent_before:]] == [number(3)]
    states = _states(db)
    assert states == {"delivered": 2, "failed": 1, "sent": 1}


def test_concurrent_claims_never_share_a_row(db_engine: Engine, tmp_path: Path) -> None:
    """Four workers claim in parallel (committed data, real connections) until nothing is left."""
    factory = sessionmaker(bind=db_engine, expire_on_commit=False)
    with factory() as session:
        case_id = add_case(session, code=f"CL{uuid.uuid4().hex[:8]}")
        run_id = add_run(session, tmp_path / "lists", [list_row(case_id, "CL", 1)])
        add_outbox(session, run_id=run_id, case_id=case_id, count=400)
        session.commit()
    start = threading.Barrier(4)

    def work(name: str) -> list[int]:
        taken: list[int] = []
        start.wait()
        while True:
            with UnitOfWork(factory) as uow:
                rows = claim(
                    uow=uow, channel="sms", worker=name, limit=7,
                    lease=timedelta(seconds=60), now=EPOCH,
                )  # fmt: skip
            if not rows:
                return taken
            taken += [r.id for r in rows]

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            claimed = list(pool.map(work, ["a", "b", "c", "d"]))
        every = [i for ids in claimed for i in ids]
        assert len(every) == len(set(every)) == 400
        with factory() as session:
            owners = dict(session.execute(select(OutboxMessage.id, OutboxMessage.claimed_by)).all())
        for name, ids in zip("abcd", claimed, strict=True):
            assert {owners[i] for i in ids} <= {name}
    finally:
        with factory() as session:
            session.execute(delete(OutboxMessage).where(OutboxMessage.run_id == run_id))
            session.commit()
