"""Outbox tables: one row per planned contact, its attempts, provider ids, and message templates.

The CHECK constraints repeat ``domain``'s rules in the database (defence in
depth): a state outside the state table, a suppression without a reason or a
``sending`` row without a lease cannot be written by any code path.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.execution.domain import (
    ATTEMPT_OUTCOMES,
    DISPATCH_CHANNELS,
    STATES,
    AttemptOutcome,
    OutboxState,
)

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _enum(enum: type[OutboxState | AttemptOutcome]) -> SAEnum:
    return SAEnum(
        enum, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
    )


class OutboxTemplate(Base):
    """The message a case sends on one channel (Jinja text, see ``execution.templates``)."""

    __tablename__ = "outbox_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("marketing_case.id"))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text())
    variables: Mapped[list[str]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("case_id", "channel"),
        CheckConstraint(f"channel IN ({_quoted(DISPATCH_CHANNELS)})", name="channel_known"),
        CheckConstraint("revision >= 1", name="revision_positive"),
    )


class OutboxMessage(Base):
    """One planned contact and where it stands (``domain`` has the state table)."""

    __tablename__ = "outbox"
    # Loads and claims are bulk statements whose parameters the audit entry keeps:
    # the address (a number or e-mail) must not be copied into the audit trail.
    __audit_redact__ = ("address",)
    # Lease bookkeeping changes on every claim; the state change is the event.
    __audit_ignore__ = ("claimed_by", "claimed_until", "updated_at")

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    # A run's contact has run_id; a real-time trigger's has trigger_decision_id instead.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("targeting_run.id"), index=True)
    trigger_decision_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("trigger_decision.id"), index=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("marketing_case.id"))
    case_code: Mapped[str] = mapped_column(String(20))
    subscriber_id: Mapped[int] = mapped_column(BigInteger())
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text())
    subject: Mapped[str | None] = mapped_column(String(300))
    offer_code: Mapped[str | None] = mapped_column(String(60))
    city_id: Mapped[str | None] = mapped_column(String(40), index=True)
    outlet_id: Mapped[str | None] = mapped_column(String(40))
    account_manager_id: Mapped[str | None] = mapped_column(String(40))
    planned_on: Mapped[date] = mapped_column(Date())
    send_from: Mapped[str | None] = mapped_column(String(5))  # HH:MM, province time
    send_until: Mapped[str | None] = mapped_column(String(5))
    state: Mapped[OutboxState] = mapped_column(_enum(OutboxState), default=OutboxState.PLANNED)
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a worker found this row ``sending`` under an expired lease (module doc of dispatch).
    in_doubt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_ids: Mapped[list[str] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(f"state IN ({_quoted(STATES)})", name="state_known"),
        CheckConstraint(f"channel IN ({_quoted(DISPATCH_CHANNELS)})", name="channel_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "state NOT IN ('cancelled', 'suppressed') OR reason IS NOT NULL",
            name="stopped_has_reason",
        ),
        CheckConstraint(
            "state != 'sending' OR (claimed_by IS NOT NULL AND claimed_until IS NOT NULL)",
            name="sending_is_leased",
        ),
        CheckConstraint(
            "state NOT IN ('sent', 'delivered', 'responded') OR sent_at IS NOT NULL",
            name="sent_has_time",
        ),
        # The claim query: due rows of one channel in one state, oldest first.
        Index("ix_outbox_claim", "channel", "state", "next_attempt_at"),
        Index("ix_outbox_case_state", "case_id", "state"),
    )


class OutboxAttempt(Base):
    """One send of an outbox row, appended when its outcome is known; never updated."""

    __tablename__ = "outbox_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    attempt_no: Mapped[int]
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[AttemptOutcome] = mapped_column(_enum(AttemptOutcome))
    error: Mapped[str | None] = mapped_column(String(1000))
    provider_ids: Mapped[list[str]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("outbox_id", "attempt_no"),
        CheckConstraint("attempt_no >= 1", name="attempt_no_positive"),
        CheckConstraint(f"outcome IN ({_quoted(ATTEMPT_OUTCOMES)})", name="outcome_known"),
    )


class OutboxProviderId(Base):
    """A provider's message id (for SMS: one per segment) → its outbox row, for receipts.

    A table rather than a search in ``outbox.provider_ids`` (JSON, not
    indexable on both databases): receipts arrive by the thousand and after a
    restart, when no worker remembers which id it was given.
    """

    __tablename__ = "outbox_provider_id"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(100))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    segment: Mapped[int]
    receipt: Mapped[str | None] = mapped_column(String(16))  # delivered / failed / expired
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        CheckConstraint("segment >= 0", name="segment_not_negative"),
    )


# The tables themselves, for the Core statements the dispatcher runs in bulk (executemany).
OUTBOX = cast(Table, OutboxMessage.__table__)
OUTBOX_ATTEMPT = cast(Table, OutboxAttempt.__table__)
OUTBOX_PROVIDER_ID = cast(Table, OutboxProviderId.__table__)
