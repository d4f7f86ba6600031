"""Response tables: imports, events, exposures (who a case reached or held back) and attributions.

The CHECK constraints repeat ``domain``'s lists (defence in depth): an event of
an unknown type, an exposure of an unknown kind or group, or an attribution to
a group other than treatment/control cannot be written by any code path.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.execution.responses.domain import GROUPS, KINDS, TYPES

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class ResponseImport(Base):
    """One batch of events that added something: a file, an API call or a simulation run."""

    __tablename__ = "response_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))  # file name, "api" or "demo-simulation"
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the file, for files
    rows: Mapped[int]
    new_events: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("rows >= 0 AND new_events >= 0", name="counts_not_negative"),)


class ResponseEvent(Base):
    """An order event (or guardrail event) of one subscriber; ``event_id`` makes it once only."""

    __tablename__ = "response_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    subscriber_id: Mapped[int] = mapped_column(BigInteger())
    type: Mapped[str] = mapped_column(String(16))
    offer_code: Mapped[str | None] = mapped_column(String(40))
    product_code: Mapped[str | None] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revenue_fen: Mapped[int] = mapped_column(BigInteger(), default=0)
    source: Mapped[str] = mapped_column(String(200))
    import_id: Mapped[int] = mapped_column(ForeignKey("response_import.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(f"type IN ({_quoted(TYPES)})", name="type_known"),
        Index("ix_response_event_subscriber_time", "subscriber_id", "occurred_at"),
    )


class ResponseExposure(Base):
    """A case reaching a subscriber (treatment) or holding one back (control), and when.

    ``(kind, ref, case_id, subscriber_id)`` is unique: ``ref`` is the outbox row,
    the task, or the targeting run of a control row, so collecting exposures again
    adds nothing twice. ``org_path`` is the path of the outlet (or, without one,
    the city) the contact belongs to, for the org-scope filter; NULL when the unit
    is not in the org tree (then only the province sees it). ``case_id`` has no
    foreign key, as with tasks: a run records its cases as given.
    """

    __tablename__ = "response_exposure"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column()
    case_code: Mapped[str] = mapped_column(String(20))
    subscriber_id: Mapped[int] = mapped_column(BigInteger())
    group: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[int] = mapped_column(BigInteger())
    channel: Mapped[str | None] = mapped_column(String(16))
    offer_code: Mapped[str | None] = mapped_column(String(40))
    city_id: Mapped[str | None] = mapped_column(String(40))
    outlet_id: Mapped[str | None] = mapped_column(String(40))
    account_manager_id: Mapped[str | None] = mapped_column(String(40))
    org_path: Mapped[str | None] = mapped_column(String(400))
    exposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "ref", "case_id", "subscriber_id"),
        CheckConstraint(f"kind IN ({_quoted(KINDS)})", name="kind_known"),
        CheckConstraint(f'"group" IN ({_quoted(GROUPS)})', name="group_known"),
        CheckConstraint("kind = 'control' OR \"group\" = 'treatment'", name="contact_is_treatment"),
        Index("ix_response_exposure_subscriber_time", "subscriber_id", "exposed_at"),
        Index("ix_response_exposure_case_group", "case_id", "group"),
    )


class ResponseControlLoad(Base):
    """A targeting run whose control rows are in ``response_exposure`` (its list never changes)."""

    __tablename__ = "response_control_load"

    run_id: Mapped[int] = mapped_column(ForeignKey("targeting_run.id"), primary_key=True)
    controls: Mapped[int]
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResponseAttribution(Base):
    """An event attributed to one case's last touch (``attribution``); one per event and case.

    The event's and the exposure's fields are copied in, so the per-case counts
    are one grouped query over this table and the exposures.
    """

    __tablename__ = "response_attribution"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("response_event.event_id"))
    case_id: Mapped[int] = mapped_column()
    case_code: Mapped[str] = mapped_column(String(20))
    subscriber_id: Mapped[int] = mapped_column(BigInteger())
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revenue_fen: Mapped[int] = mapped_column(BigInteger())
    exposure_id: Mapped[int] = mapped_column(BigId, ForeignKey("response_exposure.id"), index=True)
    group: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[int] = mapped_column(BigInteger())
    exposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(16))
    offer_code: Mapped[str | None] = mapped_column(String(40))
    city_id: Mapped[str | None] = mapped_column(String(40))
    outlet_id: Mapped[str | None] = mapped_column(String(40))
    account_manager_id: Mapped[str | None] = mapped_column(String(40))
    org_path: Mapped[str | None] = mapped_column(String(400))
    attributed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("event_id", "case_id"),
        CheckConstraint(f"type IN ({_quoted(TYPES)})", name="type_known"),
        CheckConstraint(f'"group" IN ({_quoted(GROUPS)})', name="group_known"),
        CheckConstraint("exposed_at <= occurred_at", name="exposed_before_event"),
        Index("ix_response_attribution_case_group", "case_id", "group"),
    )
