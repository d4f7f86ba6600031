"""Case tables: the case and its plan, its append-only timeline, the issue tree and alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.cases.domain import (
    AlertKind,
    AlertStatus,
    CaseLevel,
    CaseStatus,
    IssueStatus,
    Objective,
)
from telmark.db import Base, UTCDateTime, utcnow


def _enum(
    enum: type[CaseStatus | CaseLevel | Objective | IssueStatus | AlertKind | AlertStatus],
) -> SAEnum:
    return SAEnum(
        enum, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]
    )


class Case(Base):
    """A marketing case (营销案).

    ``version`` is the optimistic lock (SQLAlchemy's ``version_id_col``): every
    flush of a change is ``UPDATE ... WHERE id = ? AND version = ?``, so of two
    requests that read the same version only the first to commit changes the
    row; the other's UPDATE matches nothing and becomes a Conflict.
    """

    __tablename__ = "marketing_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    owner: Mapped[str] = mapped_column(String(120))
    level: Mapped[CaseLevel] = mapped_column(_enum(CaseLevel))
    org_code: Mapped[str] = mapped_column(String(40), index=True)
    objective: Mapped[Objective] = mapped_column(_enum(Objective))
    template: Mapped[str | None] = mapped_column(String(40))
    hypothesis: Mapped[str] = mapped_column(String(2000), default="")
    claim: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("segment_snapshot.id"))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    starts_on: Mapped[date] = mapped_column(Date())
    ends_on: Mapped[date] = mapped_column(Date())
    horizon_months: Mapped[int]
    checkpoints: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    kpis: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    budget_fen: Mapped[int] = mapped_column(BigInteger())
    holdout_bp: Mapped[int]
    priority: Mapped[int]
    business_weight_bp: Mapped[int]
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), index=True)
    version: Mapped[int] = mapped_column()
    submission: Mapped[int] = mapped_column(default=0)
    approval_levels: Mapped[list[str]] = mapped_column(JSON, default=list)
    submitted_by: Mapped[str | None] = mapped_column(String(120))
    frozen_projection: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attribution_days: Mapped[int | None]  # responses: None = the setting (execution.responses)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("submission >= 0", name="submission_not_negative"),
        CheckConstraint("ends_on >= starts_on", name="schedule_order"),
        CheckConstraint("horizon_months BETWEEN 1 AND 60", name="horizon_range"),
        CheckConstraint("budget_fen >= 0", name="budget_not_negative"),
        CheckConstraint("holdout_bp BETWEEN 0 AND 5000", name="holdout_range"),
        CheckConstraint("priority BETWEEN 1 AND 9", name="priority_range"),
        CheckConstraint("business_weight_bp BETWEEN 0 AND 10000", name="weight_range"),
        CheckConstraint(
            "(frozen_projection IS NULL) = (frozen_at IS NULL)", name="frozen_together"
        ),
    )


class CaseTransition(Base):
    """One action on a case, as it happened; never updated or deleted (the timeline).

    ``seq`` is the case's version after the action, so the timeline's order is
    the order the optimistic lock admitted the changes in.
    """

    __tablename__ = "case_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("marketing_case.id"), index=True)
    seq: Mapped[int]
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus))
    to_status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus))
    level: Mapped[CaseLevel | None] = mapped_column(_enum(CaseLevel))
    submission: Mapped[int]
    comment: Mapped[str] = mapped_column(String(1000), default="")
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )


class CaseIssue(Base):
    """A case issued to a unit (city, outlet) or a member of staff, with its target.

    ``assignee`` (``org:C01`` or ``staff:S0001``) is unique per case, so a case
    reaches any unit or person at most once however often it is re-issued.
    """

    __tablename__ = "case_issue"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("marketing_case.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("case_issue.id"))
    org_code: Mapped[str] = mapped_column(String(40), index=True)
    staff_code: Mapped[str | None] = mapped_column(String(40))
    assignee: Mapped[str] = mapped_column(String(60))
    target: Mapped[int]
    status: Mapped[IssueStatus] = mapped_column(_enum(IssueStatus))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    local_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    local_outlets: Mapped[list[str]] = mapped_column(JSON, default=list)
    local_channels: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API
    __table_args__ = (
        UniqueConstraint("case_id", "assignee"),
        CheckConstraint("target >= 0", name="target_not_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "(status = 'acknowledged') = (acknowledged_at IS NOT NULL)",
            name="ack_matches_status",
        ),
    )


class CaseAlert(Base):
    """An alert on an issue (unique per issue and kind, so raising it again is a no-op).

    The execution monitor's alerts (``telmark.execution.monitor``) have no issue: they
    are unique per case, kind and ``dedupe_key`` (the rule's scope and checkpoint or
    day) instead, and carry the unit they concern, their figures, the notes of whoever
    handled them and whether their e-mail went out.
    """

    __tablename__ = "case_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("marketing_case.id"), index=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("case_issue.id"))
    kind: Mapped[AlertKind] = mapped_column(_enum(AlertKind))
    status: Mapped[AlertStatus] = mapped_column(_enum(AlertStatus))
    message: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    org_code: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ack_note: Mapped[str | None] = mapped_column(String(1000))
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolve_note: Mapped[str | None] = mapped_column(String(1000))
    email_state: Mapped[str] = mapped_column(String(16), default="pending")
    email_attempts: Mapped[int] = mapped_column(default=0)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("issue_id", "kind"),
        UniqueConstraint("case_id", "kind", "dedupe_key"),
        CheckConstraint("issue_id IS NOT NULL OR dedupe_key IS NOT NULL", name="keyed"),
        CheckConstraint("email_attempts >= 0", name="email_attempts_not_negative"),
    )
