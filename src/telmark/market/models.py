"""Market-input tables: competitor offers and market share by city and month."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, String, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column

from telmark.db import Base, UTCDateTime, utcnow
from telmark.market.domain import Competitor

_COMPETITOR = SAEnum(
    Competitor, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]
)


class CompetitorOffer(Base):
    """An offer a competitor sells in a city, or province-wide (``org_code`` of the province)."""

    __tablename__ = "competitor_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_code: Mapped[str] = mapped_column(String(40), index=True)
    competitor: Mapped[Competitor] = mapped_column(_COMPETITOR)
    name: Mapped[str] = mapped_column(String(120))
    monthly_fee_fen: Mapped[int]
    data_mb: Mapped[int]
    voice_min: Mapped[int]
    is_5g: Mapped[bool]
    launched_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(String(1000), default="")
    source: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (
        CheckConstraint("monthly_fee_fen BETWEEN 0 AND 10000000", name="fee_range"),
        CheckConstraint("data_mb >= 0 AND voice_min >= 0", name="allowances_not_negative"),
        CheckConstraint(
            "withdrawn_on IS NULL OR withdrawn_on >= launched_on", name="withdrawn_after_launch"
        ),
    )


class MarketShare(Base):
    """One competitor's share of a city's mobile market in a month: a share or an estimate."""

    __tablename__ = "market_share"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_code: Mapped[str] = mapped_column(String(40), index=True)
    month: Mapped[date] = mapped_column(Date)
    competitor: Mapped[Competitor] = mapped_column(_COMPETITOR)
    share_bp: Mapped[int | None]
    subscribers: Mapped[int | None]
    notes: Mapped[str] = mapped_column(String(1000), default="")
    source: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))

    # The per-row half of domain.check_city_month; the 100% sum is checked by the
    # service under a lock on the city's org unit row (see service._lock_city).
    __table_args__ = (
        UniqueConstraint("org_code", "month", "competitor"),
        CheckConstraint("(share_bp IS NULL) <> (subscribers IS NULL)", name="share_or_count"),
        CheckConstraint("share_bp BETWEEN 0 AND 10000", name="share_range"),
        CheckConstraint("subscribers >= 0", name="subscribers_not_negative"),
    )
