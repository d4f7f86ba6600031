"""The dispatcher's database steps, each its own transaction (``execution.dispatch`` explains)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from telmark.consent.domain import Channel as ConsentChannel
from telmark.consent.models import ConsentEntry
from telmark.execution.channels.base import (
    Outcome,
    Receipt,
    ReceiptStatus,
    SendResult,
)
from telmark.execution.dispatch_sms import SmsReceipt
from telmark.execution.domain import (
    AttemptOutcome,
    OutboxState,
    RetryPolicy,
    Suppression,
    Window,
    backoff,
    check_channel,
    default_jitter,
    next_send_time,
    receipt_matches,
)
from telmark.execution.models import (
    OUTBOX,
    OUTBOX_ATTEMPT,
    OUTBOX_PROVIDER_ID,
    OutboxAttempt,
    OutboxMessage,
    OutboxProviderId,
)
from telmark.targeting.domain import send_window
from telmark.targeting.service import current_policy
from telmark.uow import UnitOfWork

log = logging.getLogger(__name__)

CONSENT_CHANNEL = {
    "sms": ConsentChannel.SMS,
    "email": ConsentChannel.EMAIL,
    "app_push": ConsentChannel.APP_PUSH,
    "wechat": ConsentChannel.APP_PUSH,  # a push to the subscriber's app or official account
}
MAX_ERROR = 1000

# -- configuration and counters ----------------------------------------------------------------


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    channel: str
    worker: str = field(default_factory=default_worker_id)
    batch: int = 100
    tps: float | None = None
    lease: timedelta = timedelta(seconds=60)
    in_doubt_grace: timedelta = timedelta(seconds=30)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    idle: float = 1.0  # seconds between polls when nothing is due
    until_empty: bool = False

    def __post_init__(self) -> None:
        check_channel(self.channel)
        if self.batch < 1:
            from telmark.errors import InvalidInput

            raise InvalidInput("batch must be positive", details=[{"field": "batch"}])


@dataclass(slots=True)
class Counters:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    suppressed: int = 0
    deferred: int = 0
    in_doubt: int = 0
    confirmed: int = 0
    lost: int = 0
    delivered: int = 0
    receipts_failed: int = 0


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    key: str
    address: str
    body: str
    subject: str | None
    attempts: int
    planned_on: date
    send_from: str | None
    send_until: str | None
    sending_at: datetime


# -- database steps (synchronous; each its own transaction) ------------------------------------


def claim(
    *, uow: UnitOfWork, channel: str, worker: str, limit: int, lease: timedelta, now: datetime
) -> list[Claimed]:
    """Take up to ``limit`` due planned rows of ``channel`` for ``worker`` (module doc, step 1)."""
    o = OutboxMessage
    due = (
        select(o.id)
        .where(o.channel == channel, o.state == OutboxState.PLANNED, o.next_attempt_at <= now)
        .order_by(o.next_attempt_at, o.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    stmt = (
        update(o)
        .where(o.id == due.c.id, o.state == OutboxState.PLANNED)
        .values(
            state=OutboxState.SENDING,
            claimed_by=worker,
            claimed_until=now + lease,
            sending_at=now,
            updated_at=now,
        )
        .returning(
            o.id,
            o.key,
            o.address,
            o.body,
            o.subject,
            o.attempts,
            o.planned_on,
            o.send_from,
            o.send_until,
        )  # fmt: skip
        .execution_options(synchronize_session=False)
    )
    rows = uow.session.execute(stmt).all()
    uow.commit()
    return sorted((Claimed(*row, sending_at=now) for row in rows), key=lambda c: c.id)


def blocked(uow: UnitOfWork, channel: str, numbers: Sequence[str], now: datetime) -> set[str]:
    """The numbers among ``numbers`` the consent register blocks on ``channel`` at ``now``."""
    if not numbers:
        return set()
    c = ConsentEntry
    stmt = select(c.msisdn).where(
        c.msisdn.in_(set(numbers)),
        c.created_at <= now,
        or_(c.revoked_at.is_(None), c.revoked_at > now),
        c.channel.in_([CONSENT_CHANNEL[channel], ConsentChannel.ALL]),
    )
    return set(uow.session.scalars(stmt))


def _release(now: datetime) -> dict[str, Any]:
    return {"claimed_by": None, "claimed_until": None, "in_doubt_at": None, "updated_at": now}


def recheck(
    *, uow: UnitOfWork, channel: str, rows: Sequence[Claimed], now: datetime, counters: Counters
) -> list[Claimed]:
    """Suppress opted-out numbers and defer rows outside the send window; the rest may go now.

    The window is that of the contact policy in force now, not the one a row was planned
    under: a province that widens its quiet hours after the lists were built is obeyed at
    once (rows keep their planned window for display only).
    """
    stop = blocked(uow, channel, [r.address for r in rows], now)
    allowed = send_window(current_policy(uow), channel)
    window = None if allowed is None else Window(*allowed)
    changes: list[dict[str, Any]] = []
    ready: list[Claimed] = []
    for row in rows:
        if row.address in stop:
            changes.append(
                {"id": row.id, "state": OutboxState.SUPPRESSED, "reason": Suppression.OPT_OUT,
                 "next_attempt_at": now, **_release(now)}
            )  # fmt: skip
            counters.suppressed += 1
            continue
        moment = next_send_time(now, planned_on=row.planned_on, window=window)
        if moment > now:
            changes.append(
                {"id": row.id, "state": OutboxState.PLANNED, "reason": None,
                 "next_attempt_at": moment, **_release(now)}
            )  # fmt: skip
            counters.deferred += 1
            continue
        ready.append(row)
    _write(uow, changes, [], [])
    uow.commit()
    return ready


def _provider_rows(channel: str, outbox_id: int, ids: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"channel": channel, "provider_id": pid, "outbox_id": outbox_id, "segment": n}
        for n, pid in enumerate(ids)
    ]


def _upsert_provider_ids(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """Map provider ids to rows; an id an SMSC hands out again points at the newer message."""
    if not rows:
        return
    insert_ = (
        postgresql.insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    stmt = insert_(OUTBOX_PROVIDER_ID)
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel", "provider_id"],
        set_={"outbox_id": stmt.excluded.outbox_id, "segment": stmt.excluded.segment,
              "receipt": None, "receipt_at": None},
    )  # fmt: skip
    uow.session.execute(stmt, rows)


def _error(text: str | None) -> str | None:
    return text[:MAX_ERROR] if text else None


def record(
    *,
    uow: UnitOfWork,
    config: DispatchConfig,
    rows: Sequence[Claimed],
    results: Sequence[SendResult],
    in_doubt: set[str],
    now: datetime,
    counters: Counters,
    jitter: Callable[[], float] = default_jitter,
) -> None:
    """Write what ``send_batch`` returned for ``rows`` (module doc, step 3), in one commit."""
    changes: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    provider: list[dict[str, Any]] = []
    hold = now + config.in_doubt_grace + config.lease
    for row, result in zip(rows, results, strict=True):
        if row.key in in_doubt:
            # Not an attempt yet: the attempt is written when it is settled (confirmed or lost).
            changes.append(
                {"id": row.id, "state": OutboxState.SENDING, "reason": None,
                 "next_attempt_at": now, "claimed_by": config.worker, "claimed_until": hold,
                 "in_doubt_at": now, "updated_at": now, "last_error": _error(result.error)}
            )  # fmt: skip
            counters.in_doubt += 1
            continue
        number = row.attempts + 1
        outcome = AttemptOutcome(result.outcome.value)
        attempts.append(
            {"outbox_id": row.id, "attempt_no": number, "worker": config.worker,
             "started_at": row.sending_at, "finished_at": now, "outcome": outcome,
             "error": _error(result.error), "provider_ids": list(result.provider_ids)}
        )  # fmt: skip
        change: dict[str, Any] = {"id": row.id, "attempts": number, **_release(now)}
        if result.outcome is Outcome.ACCEPTED:
            change |= {"state": OutboxState.SENT, "sent_at": now,
                       "provider_ids": list(result.provider_ids), "last_error": None}  # fmt: skip
            provider += _provider_rows(config.channel, row.id, result.provider_ids)
            counters.sent += 1
        elif result.outcome is Outcome.TRANSIENT and number < config.retry.max_attempts:
            delay = backoff(number, config.retry, jitter=jitter)
            change |= {"state": OutboxState.PLANNED, "next_attempt_at": now + delay,
                       "last_error": _error(result.error)}  # fmt: skip
            counters.retried += 1
        else:
            change |= {"state": OutboxState.FAILED, "last_error": _error(result.error)}
            counters.failed += 1
        changes.append(change)
    _write(uow, changes, attempts, provider)
    uow.commit()


def _write(
    uow: UnitOfWork,
    changes: list[dict[str, Any]],
    attempts: list[dict[str, Any]],
    provider: list[dict[str, Any]],
) -> None:
    """Row changes, attempts and provider ids as a few executemany statements (Core)."""
    table = OUTBOX
    # executemany wants every parameter set to name the same columns: group by key set.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        groups.setdefault(tuple(sorted(change)), []).append(change)
    for keys, group in groups.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({k: bindparam(k) for k in keys if k != "id"})
        )
        params = [{**{k: v for k, v in c.items() if k != "id"}, "row_id": c["id"]} for c in group]
        uow.session.execute(stmt, params)
    if attempts:
        uow.session.execute(insert(OUTBOX_ATTEMPT), attempts)
    _upsert_provider_ids(uow, provider)


def adopt_in_doubt(
    *, uow: UnitOfWork, config: DispatchConfig, now: datetime, limit: int = 1000
) -> list[int]:
    """Take over ``sending`` rows whose lease expired: their worker died mid-send (step 5)."""
    o = OutboxMessage
    stale = (
        select(o.id)
        .where(o.channel == config.channel, o.state == OutboxState.SENDING, o.claimed_until < now)
        .order_by(o.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("stale")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    stmt = (
        update(o)
        .where(o.id == stale.c.id, o.state == OutboxState.SENDING)
        .values(
            claimed_by=config.worker,
            claimed_until=now + config.in_doubt_grace + config.lease,
            in_doubt_at=func.coalesce(o.in_doubt_at, now),
            updated_at=now,
        )
        .returning(o.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(uow.session.scalars(stmt))
    uow.commit()
    return ids


def settle_lost(
    *, uow: UnitOfWork, config: DispatchConfig, now: datetime, grace: timedelta, counters: Counters
) -> int:
    """In-doubt rows of this worker that no receipt claimed within ``grace``: send them again."""
    o = OutboxMessage
    rows = uow.session.execute(
        select(o.id, o.attempts, o.sending_at, o.in_doubt_at).where(
            o.channel == config.channel,
            o.state == OutboxState.SENDING,
            o.claimed_by == config.worker,
            o.in_doubt_at.is_not(None),
            o.in_doubt_at <= now - grace,
        )
    ).all()
    if not rows:
        uow.rollback()
        return 0
    changes, attempts = [], []
    for outbox_id, tried, started, doubted in rows:
        changes.append(
            {"id": outbox_id, "state": OutboxState.PLANNED, "attempts": tried + 1,
             "next_attempt_at": now, "last_error": "in doubt: no receipt within the grace period",
             **_release(now)}
        )  # fmt: skip
        attempts.append(
            {"outbox_id": outbox_id, "attempt_no": tried + 1, "worker": config.worker,
             "started_at": started or doubted, "finished_at": now, "outcome": AttemptOutcome.LOST,
             "error": "no delivery receipt after the worker or connection was lost",
             "provider_ids": []}
        )  # fmt: skip
    _write(uow, changes, attempts, [])
    uow.commit()
    counters.lost += len(rows)
    return len(rows)


_FINAL = {ReceiptStatus.DELIVERED: "delivered", ReceiptStatus.FAILED: "failed",
          ReceiptStatus.EXPIRED: "expired"}  # fmt: skip


def apply_receipts(
    *,
    uow: UnitOfWork,
    config: DispatchConfig,
    receipts: Sequence[Receipt],
    now: datetime,
    counters: Counters,
) -> list[Receipt]:
    """Settle rows from ``receipts``; returns those no row claims yet (kept for a while)."""
    p, o = OutboxProviderId, OutboxMessage
    ids = {r.provider_id for r in receipts}
    known = dict(
        uow.session.execute(
            select(p.provider_id, p.outbox_id).where(
                p.channel == config.channel, p.provider_id.in_(ids)
            )
        ).all()
    )
    marks = [
        {"row_channel": config.channel, "row_provider_id": r.provider_id,
         "receipt": _FINAL[r.status], "receipt_at": r.at}
        for r in receipts if r.provider_id in known
    ]  # fmt: skip
    if marks:
        table = OUTBOX_PROVIDER_ID
        uow.session.execute(
            update(table)
            .where(
                table.c.channel == bindparam("row_channel"),
                table.c.provider_id == bindparam("row_provider_id"),
            )
            .values(receipt=bindparam("receipt"), receipt_at=bindparam("receipt_at")),
            marks,
        )
    touched = {known[r.provider_id] for r in receipts if r.provider_id in known}
    if touched:
        segments: dict[int, list[str | None]] = {}
        for outbox_id, mark in uow.session.execute(
            select(p.outbox_id, p.receipt)
            .join(o, o.id == p.outbox_id)
            .where(p.outbox_id.in_(touched), o.state == OutboxState.SENT)
        ):
            segments.setdefault(outbox_id, []).append(mark)
        _settle_from_segments(uow, segments, now, counters)
    unmatched = [
        r
        for r in receipts
        if r.provider_id not in known and not _confirm_in_doubt(uow, config, r, now, counters)
    ]
    uow.commit()
    return unmatched


def _settle_from_segments(
    uow: UnitOfWork, segments: dict[int, list[str | None]], now: datetime, counters: Counters
) -> None:
    """Sent rows whose every segment has a receipt: delivered, or failed if any was not."""
    changes: list[dict[str, Any]] = []
    for outbox_id, marks in segments.items():
        if any(m in ("failed", "expired") for m in marks):
            changes.append(
                {"id": outbox_id, "state": OutboxState.FAILED, "delivered_at": None,
                 "last_error": "delivery receipt: not delivered", "updated_at": now}
            )  # fmt: skip
            counters.receipts_failed += 1
        elif all(m == "delivered" for m in marks):
            changes.append(
                {"id": outbox_id, "state": OutboxState.DELIVERED, "delivered_at": now,
                 "last_error": None, "updated_at": now}
            )  # fmt: skip
            counters.delivered += 1
    _write(uow, changes, [], [])


def _confirm_in_doubt(
    uow: UnitOfWork, config: DispatchConfig, receipt: Receipt, now: datetime, counters: Counters
) -> bool:
    if not isinstance(receipt, SmsReceipt) or not receipt.address:
        return False
    o = OutboxMessage
    candidates = uow.session.scalars(
        select(o)
        .where(
            o.channel == config.channel,
            o.state == OutboxState.SENDING,
            o.in_doubt_at.is_not(None),
            o.address == receipt.address,
        )
        .order_by(o.id)
    )
    row = next(
        (r for r in candidates if receipt_matches(receipt_text=receipt.text, body=r.body)), None
    )
    if row is None:
        return False
    number = row.attempts + 1
    delivered = receipt.status is ReceiptStatus.DELIVERED
    uow.session.add(
        OutboxAttempt(
            outbox_id=row.id, attempt_no=number, worker=config.worker,
            started_at=row.sending_at or row.in_doubt_at or now, finished_at=now,
            outcome=AttemptOutcome.CONFIRMED, error=None, provider_ids=[receipt.provider_id],
        )
    )  # fmt: skip
    row.attempts = number
    row.state = OutboxState.DELIVERED if delivered else OutboxState.FAILED
    row.sent_at = row.sending_at or now
    row.delivered_at = now if delivered else None
    row.provider_ids = [receipt.provider_id]
    row.last_error = None if delivered else f"delivery receipt: {receipt.detail}"
    row.claimed_by = row.claimed_until = row.in_doubt_at = None
    row.updated_at = now
    uow.session.flush()
    _upsert_provider_ids(uow, _provider_rows(config.channel, row.id, [receipt.provider_id]))
    uow.session.execute(
        update(OutboxProviderId)
        .where(OutboxProviderId.channel == config.channel,
               OutboxProviderId.provider_id == receipt.provider_id)
        .values(receipt=_FINAL[receipt.status], receipt_at=receipt.at)
    )  # fmt: skip
    counters.confirmed += 1
    counters.delivered += delivered
    counters.receipts_failed += not delivered
    return True


def pending(*, uow: UnitOfWork, channel: str, now: datetime) -> int:
    """Rows a dispatcher still has to handle now: due planned rows, and any being sent."""
    o = OutboxMessage
    count = uow.session.scalar(
        select(func.count())
        .select_from(o)
        .where(
            o.channel == channel,
            or_(
                and_(o.state == OutboxState.PLANNED, o.next_attempt_at <= now),
                o.state == OutboxState.SENDING,
            ),
        )
    )
    uow.rollback()
    return count or 0
