"""Trigger tables: the rule that makes a case event-driven, and one decision per event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.execution.triggers.domain import EventType, Outcome, Reason
from telmark.privacy.masking import PersonalKind

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def _quoted(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


EVENT_TYPES = _quoted([e.value for e in EventType])


class TriggerRule(Base):
    """A case's trigger: the event it listens to, a condition, cooldown and daily cap.

    One per case (``case_id`` unique): a case reacts to one kind of event, so its
    funnel and evaluation read as one story.
    """

    __tablename__ = "trigger_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("marketing_case.id"), unique=True)
    event_type: Mapped[str] = mapped_column(String(24))
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cooldown_days: Mapped[int]
    max_per_day: Mapped[int | None]
    revision: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(f"event_type IN ({EVENT_TYPES})", name="event_type_known"),
        CheckConstraint("cooldown_days BETWEEN 0 AND 365", name="cooldown_range"),
        CheckConstraint("max_per_day IS NULL OR max_per_day >= 1", name="max_per_day_positive"),
        CheckConstraint("revision >= 1", name="revision_positive"),
    )


class TriggerDecision(Base):
    """What became of one event (``event_id`` unique: an event is decided once, ever).

    Written in batches by the engine's writer (bulk inserts), never updated. The
    number is kept because the console lists recent decisions (masked) and the
    outbox row of a contact is addressed from it.
    """

    __tablename__ = "trigger_decision"
    __audit_redact__ = ("msisdn",)
    __audit_personal__ = {"msisdn": PersonalKind.MSISDN}  # noqa: RUF012 - audit's declarative API

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    event_type: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16))  # http, redis, simulator
    subscriber_id: Mapped[int | None] = mapped_column(BigInteger())
    msisdn: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(24))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("marketing_case.id"))
    case_code: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(16))
    offer_code: Mapped[str | None] = mapped_column(String(60))
    city_id: Mapped[str | None] = mapped_column(String(40))
    outlet_id: Mapped[str | None] = mapped_column(String(40))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(f"event_type IN ({EVENT_TYPES})", name="event_type_known"),
        CheckConstraint(
            f"outcome IN ({_quoted([o.value for o in Outcome])})", name="outcome_known"
        ),
        CheckConstraint(
            f"reason IS NULL OR reason IN ({_quoted([r.value for r in Reason])})",
            name="reason_known",
        ),
        CheckConstraint(
            "(outcome = 'excluded') = (reason IS NOT NULL)", name="excluded_has_reason"
        ),
        CheckConstraint(
            "outcome = 'excluded' OR (case_id IS NOT NULL AND channel IS NOT NULL)",
            name="decided_has_case",
        ),
        # The console's recent decisions and the engine's load (cooldowns, today's counts).
        Index("ix_trigger_decision_decided_at", "decided_at"),
        Index("ix_trigger_decision_case_decided", "case_id", "decided_at"),
    )
