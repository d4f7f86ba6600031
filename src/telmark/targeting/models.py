"""Targeting tables: the versioned contact policy and the targeting runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, String
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.targeting.domain import Period, RunStatus


class ContactPolicyVersion(Base):
    """One version of the province's contact policy; never updated — an edit adds the next."""

    __tablename__ = "contact_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    period: Mapped[Period] = mapped_column(
        SAEnum(Period, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    global_cap: Mapped[int]
    channel_caps: Mapped[dict[str, int]] = mapped_column(JSON)
    min_gap_days: Mapped[int]
    # Minutes after local midnight (Asia/Shanghai); start > end wraps past midnight.
    quiet_start_minute: Mapped[int]
    quiet_end_minute: Mapped[int]
    global_holdout_bp: Mapped[int]
    global_holdout_key: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("global_cap BETWEEN 1 AND 100", name="cap_range"),
        CheckConstraint("min_gap_days BETWEEN 0 AND 90", name="gap_range"),
        CheckConstraint("quiet_start_minute BETWEEN 0 AND 1439", name="quiet_start_range"),
        CheckConstraint("quiet_end_minute BETWEEN 0 AND 1439", name="quiet_end_range"),
        CheckConstraint("global_holdout_bp BETWEEN 0 AND 9999", name="holdout_range"),
    )


class TargetingRun(Base):
    """One targeting run, found again by its key; its lists live in one Parquet file.

    ``file_path`` is relative to the targeting directory; ``sha256``, sizes and
    the summaries are set with ``complete`` in one commit. Only complete runs
    count as planned contacts for later runs.
    """

    __tablename__ = "targeting_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[RunStatus] = mapped_column(
        SAEnum(
            RunStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        )
    )
    run_on: Mapped[date] = mapped_column(Date(), index=True)
    policy_version: Mapped[int]
    # The cases as given (their weights, snapshots, offers, channels, holdouts).
    cases: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    fingerprint: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    byte_size: Mapped[int | None] = mapped_column(BigInteger())
    contacts: Mapped[int | None] = mapped_column(BigInteger())
    controls: Mapped[int | None] = mapped_column(BigInteger())
    failure: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("status IN ('running', 'complete', 'failed')", name="status_known"),
        CheckConstraint(
            "status != 'complete' OR (sha256 IS NOT NULL AND byte_size IS NOT NULL "
            "AND contacts IS NOT NULL AND controls IS NOT NULL AND summary IS NOT NULL "
            "AND completed_at IS NOT NULL)",
            name="complete_is_complete",
        ),
    )
