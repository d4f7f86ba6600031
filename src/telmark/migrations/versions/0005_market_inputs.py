"""market inputs: competitor offers and market share by city and month

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 13:40:00.000000

Both tables carry the org code of the city (or, for province-wide offers,
the province) they belong to; the service filters them by the reader's org
scope. A share row holds either a share in basis points or a subscriber
estimate, never both (CHECK); the 100% rule over one city-month is the
service's, checked under a lock on the city's org unit row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPETITORS = ("china_mobile", "china_unicom", "china_telecom", "china_broadnet", "other")


def _competitor() -> sa.Enum:
    return sa.Enum(*COMPETITORS, name="competitor", native_enum=False, length=24)


def upgrade() -> None:
    op.create_table(
        "competitor_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column("competitor", _competitor(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("monthly_fee_fen", sa.Integer(), nullable=False),
        sa.Column("data_mb", sa.Integer(), nullable=False),
        sa.Column("voice_min", sa.Integer(), nullable=False),
        sa.Column("is_5g", sa.Boolean(), nullable=False),
        sa.Column("launched_on", sa.Date(), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("notes", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "monthly_fee_fen BETWEEN 0 AND 10000000", name=op.f("ck_competitor_offer_fee_range")
        ),
        sa.CheckConstraint(
            "data_mb >= 0 AND voice_min >= 0",
            name=op.f("ck_competitor_offer_allowances_not_negative"),
        ),
        sa.CheckConstraint(
            "withdrawn_on IS NULL OR withdrawn_on >= launched_on",
            name=op.f("ck_competitor_offer_withdrawn_after_launch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitor_offer")),
    )
    with op.batch_alter_table("competitor_offer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_competitor_offer_org_code"), ["org_code"], unique=False
        )

    op.create_table(
        "market_share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("competitor", _competitor(), nullable=False),
        sa.Column("share_bp", sa.Integer(), nullable=True),
        sa.Column("subscribers", sa.Integer(), nullable=True),
        sa.Column("notes", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "(share_bp IS NULL) <> (subscribers IS NULL)",
            name=op.f("ck_market_share_share_or_count"),
        ),
        sa.CheckConstraint(
            "share_bp BETWEEN 0 AND 10000", name=op.f("ck_market_share_share_range")
        ),
        sa.CheckConstraint(
            "subscribers >= 0", name=op.f("ck_market_share_subscribers_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_share")),
        sa.UniqueConstraint(
            "org_code",
            "month",
            "competitor",
            name=op.f("uq_market_share_org_code_month_competitor"),
        ),
    )
    with op.batch_alter_table("market_share", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_share_org_code"), ["org_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("market_share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_share_org_code"))
    op.drop_table("market_share")
    with op.batch_alter_table("competitor_offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_competitor_offer_org_code"))
    op.drop_table("competitor_offer")
