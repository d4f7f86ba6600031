"""Consent tables: the register's entries and the files imported into it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.consent.domain import Channel, ConsentKind, Source
from telmark.db import Base, UTCDateTime, utcnow
from telmark.privacy.masking import PersonalKind


def _enum(enum: type[StrEnum]) -> SAEnum:
    return SAEnum(
        enum, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]
    )


class ConsentImport(Base):
    """One imported file; its SHA-256 makes importing the same file twice a no-op."""

    __tablename__ = "consent_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    encoding: Mapped[str] = mapped_column(String(24))
    rows: Mapped[int]
    added: Mapped[int]
    already_present: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(120))


class ConsentEntry(Base):
    __tablename__ = "consent_entry"
    __audit_personal__ = {"msisdn": PersonalKind.MSISDN}

    id: Mapped[int] = mapped_column(primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[ConsentKind] = mapped_column(_enum(ConsentKind))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    source: Mapped[Source] = mapped_column(_enum(Source))
    reason: Mapped[str] = mapped_column(String(400), default="")
    import_id: Mapped[int | None] = mapped_column(ForeignKey("consent_import.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    # Revoked, never deleted (migration 0003 refuses DELETE on this table).
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    revoke_reason: Mapped[str | None] = mapped_column(String(400))

    __table_args__ = (
        # At most one entry in force per number, kind and channel: the database
        # enforces what the service checks, so two concurrent adds cannot both land.
        Index(
            "uq_consent_entry_in_force",
            "msisdn",
            "kind",
            "channel",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        CheckConstraint("(revoked_at IS NULL) = (revoked_by IS NULL)", name="revoked_with_actor"),
    )
