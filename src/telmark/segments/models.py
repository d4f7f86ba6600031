"""Saved segments and their append-only rule versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.segments.domain import SegmentStatus


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
