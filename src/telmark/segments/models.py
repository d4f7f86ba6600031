"""Saved segments, their append-only rule versions and frozen member snapshots."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.segments.domain import SegmentStatus, SnapshotStatus


class Segment(Base):
    """A named target-customer definition owned by an org unit; its rule lives in versions."""

    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(2000), default="")
    org_code: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[SegmentStatus] = mapped_column(
        SAEnum(
            SegmentStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=SegmentStatus.ACTIVE,
    )
    current_version: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("current_version >= 1", name="version_positive"),)


class SegmentVersion(Base):
    """One saved rule of a segment; never updated — an edit adds the next version."""

    __tablename__ = "segment_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segment.id"), index=True)
    version: Mapped[int]
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("segment_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )


class SegmentSnapshot(Base):
    """A frozen member list of one rule version, as of one month, in one org scope.

    The members live in an immutable Parquet file under the snapshot directory
    (``file_path`` is relative to it, so the directory can be moved or mounted
    elsewhere); ``sha256`` and ``byte_size`` are set with ``ready`` in one commit,
    and reading checks the file against them.
    """

    __tablename__ = "segment_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segment.id"), index=True)
    version: Mapped[int]
    as_of: Mapped[date] = mapped_column(Date())
    data_date: Mapped[date] = mapped_column(Date())
    # The unit whose scope the members were drawn from: who may read or export them.
    org_code: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[SnapshotStatus] = mapped_column(
        SAEnum(
            SnapshotStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=SnapshotStatus.BUILDING,
    )
    member_count: Mapped[int | None]
    file_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    byte_size: Mapped[int | None] = mapped_column(BigInteger())
    failure: Mapped[str | None] = mapped_column(String(1000))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # NULL keys never collide (both SQLite and PostgreSQL treat NULLs as distinct).
        UniqueConstraint("segment_id", "idempotency_key"),
        # The rule version must exist: a snapshot always names the rule it froze.
        ForeignKeyConstraint(
            ["segment_id", "version"],
            ["segment_version.segment_id", "segment_version.version"],
        ),
        CheckConstraint("status IN ('building', 'ready', 'failed')", name="status_known"),
        CheckConstraint("member_count IS NULL OR member_count >= 0", name="count_not_negative"),
        CheckConstraint(
            "status != 'ready' OR (member_count IS NOT NULL AND sha256 IS NOT NULL "
            "AND byte_size IS NOT NULL AND completed_at IS NOT NULL)",
            name="ready_is_complete",
        ),
    )
