"""Task tables: one row per front-line contact, and its append-only history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.execution.tasks.domain import Outcome, TaskAction, TaskState
from telmark.privacy.masking import PersonalKind


def _enum(enum: type[TaskState | Outcome | TaskAction]) -> SAEnum:
    return SAEnum(
        enum, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
    )


class Task(Base):
    """A front-line contact to make: who, for which case and offer, by whom, by when.

    ``(run_id, case_id, subscriber_id)`` is unique: the idempotency key that makes
    generating the same run twice create nothing new. ``org_path`` is the
    assigned unit's materialised path, so the org-scope filter is one prefix
    match. ``version`` is the optimistic lock: of two people recording the same
    task at once, the second matches no row and is told to reload.
    ``case_id`` has no foreign key: a run records its cases as given, and the
    CLI can target cases that are not marketing-case rows.
    """

    __tablename__ = "frontline_task"
    # Notes are free text typed at the counter; they may name the customer.
    __audit_personal__ = {"note": PersonalKind.TEXT}

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("targeting_run.id"))
    case_id: Mapped[int] = mapped_column(index=True)
    case_code: Mapped[str] = mapped_column(String(20))
    subscriber_id: Mapped[int] = mapped_column(BigInteger())
    offer_code: Mapped[str | None] = mapped_column(String(40))
    city_code: Mapped[str | None] = mapped_column(String(40))
    org_code: Mapped[str] = mapped_column(String(40), index=True)
    org_path: Mapped[str] = mapped_column(String(400))
    staff_code: Mapped[str | None] = mapped_column(String(40), index=True)
    planned_on: Mapped[date] = mapped_column(Date())
    due_on: Mapped[date] = mapped_column(Date())
    state: Mapped[TaskState] = mapped_column(_enum(TaskState))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome))
    note: Mapped[str] = mapped_column(String(1000), default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API
    __table_args__ = (
        UniqueConstraint("run_id", "case_id", "subscriber_id"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("due_on >= planned_on", name="due_after_planned"),
        CheckConstraint("state IN ('open', 'done', 'cancelled')", name="state_known"),
        # Defence in depth for domain.TRANSITIONS: a done task always has its outcome,
        # its time and who recorded it; no other task has an outcome.
        CheckConstraint(
            "(state = 'done') = (outcome IS NOT NULL AND done_at IS NOT NULL "
            "AND done_by IS NOT NULL)",
            name="done_has_outcome",
        ),
        Index(
            "ix_frontline_task_org_path",
            "org_path",
            postgresql_ops={"org_path": "varchar_pattern_ops"},
        ),
        Index("ix_frontline_task_state_due_on", "state", "due_on"),
    )


class TaskEvent(Base):
    """One thing that happened to a task; never updated or deleted (the task's history).

    ``seq`` is the task's version after the event, unique per task, so the
    history is in the order the optimistic lock admitted the changes.
    """

    __tablename__ = "frontline_task_event"
    __audit_personal__ = {"note": PersonalKind.TEXT}

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("frontline_task.id"), index=True)
    seq: Mapped[int]
    action: Mapped[TaskAction] = mapped_column(_enum(TaskAction))
    from_state: Mapped[TaskState | None] = mapped_column(_enum(TaskState))
    to_state: Mapped[TaskState] = mapped_column(_enum(TaskState))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome))
    note: Mapped[str] = mapped_column(String(1000), default="")
    org_code: Mapped[str] = mapped_column(String(40))
    staff_code: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("task_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )
