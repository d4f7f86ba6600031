"""Org tables of the operational database."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column, relationship

from telmark.db import Base, UTCDateTime, utcnow
from telmark.org.domain import OrgKind


class OrgUnit(Base):
    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    kind: Mapped[OrgKind] = mapped_column(
        SAEnum(
            OrgKind, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]
        )
    )
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))
    # Materialised path "/P00/C01/…/"; see org.domain for why.
    path: Mapped[str] = mapped_column(String(400))
    depth: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    # varchar_pattern_ops lets PostgreSQL use the index for the prefix LIKE of scope filters.
    __table_args__ = (
        Index("ix_org_unit_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    level: Mapped[int]
    grade: Mapped[int]
    position: Mapped[str] = mapped_column(String(40))
    hired_date: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    org_unit: Mapped[OrgUnit] = relationship()

    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
        CheckConstraint("grade BETWEEN 1 AND 10", name="grade_range"),
    )
