"""Offer tables: offers, their append-only versions, stock/budget pools, the redemption
ledger and lottery draws."""

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

from telmark.db import Base, UTCDateTime, utcnow
from telmark.offers.domain import (
    EntryKind,
    OfferStatus,
    PoolKind,
    ProductAction,
    RedemptionStatus,
)


def _enum(
    enum: type[OfferStatus | ProductAction | RedemptionStatus | EntryKind | PoolKind],
) -> SAEnum:
    return SAEnum(
        enum, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]
    )


class Offer(Base):
    """An offer of the province's offer book; its terms live in versions."""

    __tablename__ = "offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[OfferStatus] = mapped_column(_enum(OfferStatus), default=OfferStatus.DRAFT)
    current_version: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("current_version >= 1", name="version_positive"),)


class OfferVersion(Base):
    """The terms of an offer as saved once; never updated — an edit of a draft adds a version."""

    __tablename__ = "offer_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(2000), default="")
    action: Mapped[ProductAction] = mapped_column(_enum(ProductAction))
    product_codes: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date())
    valid_to: Mapped[date | None] = mapped_column(Date())
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    excludes: Mapped[list[str]] = mapped_column(JSON)
    tools: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    incremental_monthly_revenue_fen: Mapped[int] = mapped_column(BigInteger())
    channel_cost_share_bp: Mapped[int]
    co_funding_bp: Mapped[int]
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("offer_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        CheckConstraint("incremental_monthly_revenue_fen >= 0", name="revenue_not_negative"),
        CheckConstraint("channel_cost_share_bp BETWEEN 0 AND 10000", name="channel_bp_range"),
        CheckConstraint("co_funding_bp BETWEEN 0 AND 10000", name="co_funding_bp_range"),
    )


class OfferPool(Base):
    """A limited stock (items) or budget (fen) of an active offer.

    ``remaining`` is only ever changed by a conditional UPDATE
    (``remaining >= n``), so two takers can never both take the last unit; the
    CHECK constraint is the database's own guarantee behind it.
    """

    __tablename__ = "offer_pool"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    kind: Mapped[PoolKind] = mapped_column(_enum(PoolKind))
    total: Mapped[int] = mapped_column(BigInteger())
    remaining: Mapped[int] = mapped_column(BigInteger())

    __table_args__ = (
        UniqueConstraint("offer_id", "key"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("remaining >= 0 AND remaining <= total", name="remaining_in_range"),
    )


class Redemption(Base):
    """One subscriber taking one offer, found again by its idempotency key.

    ``holding`` is TRUE while the redemption holds the offer (reserved or
    consumed) and NULL once released; unique (offer, subscriber, holding) lets
    a subscriber hold an offer once at a time (NULLs never collide), enforced
    by the database even for two simultaneous requests.
    """

    __tablename__ = "offer_redemption"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"), index=True)
    offer_version: Mapped[int]
    subscriber_id: Mapped[int] = mapped_column(BigInteger(), index=True)
    # The subscriber's home unit when redeemed: whose scope the redemption is in.
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    # Referral offers: who referred the taker, and whether they earned the reward (cap).
    referrer_id: Mapped[int | None] = mapped_column(BigInteger())
    referrer_rewarded: Mapped[bool | None]
    status: Mapped[RedemptionStatus] = mapped_column(_enum(RedemptionStatus))
    holding: Mapped[bool | None]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("offer_id", "subscriber_id", "holding"),
        CheckConstraint("(status = 'released') = (holding IS NULL)", name="holding_matches_status"),
    )


class PoolEntry(Base):
    """One movement of a pool; never updated or deleted.

    For every pool: total - remaining = sum(reserve) - sum(release); consume
    entries confirm a reservation was delivered and move nothing.
    """

    __tablename__ = "offer_pool_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("offer_pool.id"), index=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("offer_redemption.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind))
    quantity: Mapped[int] = mapped_column(BigInteger())
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class Draw(Base):
    """A lottery draw: everything needed to recompute it (seed, algorithm, prize table)."""

    __tablename__ = "offer_draw"

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("offer_redemption.id"), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"), index=True)
    offer_version: Mapped[int]
    algorithm: Mapped[str] = mapped_column(String(40))
    seed: Mapped[str] = mapped_column(String(64))
    # The lottery tool as it was: prize codes, odds, costs (the prize table version).
    prize_table: Mapped[dict[str, Any]] = mapped_column(JSON)
    picked: Mapped[str] = mapped_column(String(40))
    stock_granted: Mapped[bool]
    outcome: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
