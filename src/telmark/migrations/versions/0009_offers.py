"""offers: offer book, versions, stock/budget pools, redemption ledger, lottery draws

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 17:45:00.000000

An offer's terms (product action, target products, validity, eligibility rule,
exclusions, the nine tools' incentive, economics inputs) live in append-only
``offer_version`` rows. Pools hold the remaining stock/budget of an active
offer, changed only by conditional UPDATEs; ``offer_pool_entry`` is the
append-only ledger of reserve/consume/release movements; redemptions are
unique by idempotency key and held once per (offer, subscriber); draws keep
seed, algorithm and prize table so each can be recomputed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def _who() -> list[sa.Column[object]]:
    return [
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("status", _enum("offerstatus", "draft", "active", "retired"), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        *_who(),
        sa.Column("updated_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("current_version >= 1", name=op.f("ck_offer_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
        sa.UniqueConstraint("code", name=op.f("uq_offer_code")),
    )
    op.create_table(
        "offer_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column(
            "action",
            _enum(
                "productaction", "new", "upgrade", "cross_sell", "retention_discount", "win_back"
            ),
            nullable=False,
        ),
        sa.Column("product_codes", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("eligibility", sa.JSON(), nullable=True),
        sa.Column("excludes", sa.JSON(), nullable=False),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("incremental_monthly_revenue_fen", sa.BigInteger(), nullable=False),
        sa.Column("channel_cost_share_bp", sa.Integer(), nullable=False),
        sa.Column("co_funding_bp", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        *_who(),
        sa.CheckConstraint("version >= 1", name=op.f("ck_offer_version_version_positive")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_offer_version_valid_range")
        ),
        sa.CheckConstraint(
            "incremental_monthly_revenue_fen >= 0",
            name=op.f("ck_offer_version_revenue_not_negative"),
        ),
        sa.CheckConstraint(
            "channel_cost_share_bp BETWEEN 0 AND 10000",
            name=op.f("ck_offer_version_channel_bp_range"),
        ),
        sa.CheckConstraint(
            "co_funding_bp BETWEEN 0 AND 10000", name=op.f("ck_offer_version_co_funding_bp_range")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_offer_version_offer_id_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_version")),
        sa.UniqueConstraint("offer_id", "version", name=op.f("uq_offer_version_offer_id_version")),
    )
    with op.batch_alter_table("offer_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_version_offer_id"), ["offer_id"], unique=False)

    op.create_table(
        "offer_pool",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column(
            "kind",
            _enum(
                "poolkind",
                "gift_stock",
                "red_packet_budget",
                "lottery_budget",
                "prize_stock",
                "referral_cap",
            ),
            nullable=False,
        ),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("total >= 0", name=op.f("ck_offer_pool_total_not_negative")),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= total", name=op.f("ck_offer_pool_remaining_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_offer_pool_offer_id_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_pool")),
        sa.UniqueConstraint("offer_id", "key", name=op.f("uq_offer_pool_offer_id_key")),
    )
    with op.batch_alter_table("offer_pool", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_pool_offer_id"), ["offer_id"], unique=False)

    op.create_table(
        "offer_redemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("offer_version", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("referrer_id", sa.BigInteger(), nullable=True),
        sa.Column("referrer_rewarded", sa.Boolean(), nullable=True),
        sa.Column(
            "status",
            _enum("redemptionstatus", "reserved", "consumed", "released"),
            nullable=False,
        ),
        sa.Column("holding", sa.Boolean(), nullable=True),
        *_who(),
        sa.Column("closed_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(status = 'released') = (holding IS NULL)",
            name=op.f("ck_offer_redemption_holding_matches_status"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_offer_redemption_offer_id_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_redemption")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_offer_redemption_idempotency_key")),
        sa.UniqueConstraint(
            "offer_id",
            "subscriber_id",
            "holding",
            name=op.f("uq_offer_redemption_offer_id_subscriber_id_holding"),
        ),
    )
    with op.batch_alter_table("offer_redemption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_offer_redemption_offer_id"), ["offer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_offer_redemption_subscriber_id"), ["subscriber_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_offer_redemption_org_id"), ["org_id"], unique=False)

    op.create_table(
        "offer_pool_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("entrykind", "reserve", "consume", "release"), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        *_who(),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_offer_pool_entry_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["offer_pool.id"], name=op.f("fk_offer_pool_entry_pool_id_offer_pool")
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["offer_redemption.id"],
            name=op.f("fk_offer_pool_entry_redemption_id_offer_redemption"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_pool_entry")),
    )
    with op.batch_alter_table("offer_pool_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_pool_entry_pool_id"), ["pool_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_offer_pool_entry_redemption_id"), ["redemption_id"], unique=False
        )

    op.create_table(
        "offer_draw",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("offer_version", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=40), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("prize_table", sa.JSON(), nullable=False),
        sa.Column("picked", sa.String(length=40), nullable=False),
        sa.Column("stock_granted", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        *_who(),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["offer_redemption.id"],
            name=op.f("fk_offer_draw_redemption_id_offer_redemption"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["offer.id"], name=op.f("fk_offer_draw_offer_id_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_draw")),
        sa.UniqueConstraint("redemption_id", name=op.f("uq_offer_draw_redemption_id")),
    )
    with op.batch_alter_table("offer_draw", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_draw_offer_id"), ["offer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("offer_draw", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_draw_offer_id"))
    op.drop_table("offer_draw")
    with op.batch_alter_table("offer_pool_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_pool_entry_redemption_id"))
        batch_op.drop_index(batch_op.f("ix_offer_pool_entry_pool_id"))
    op.drop_table("offer_pool_entry")
    with op.batch_alter_table("offer_redemption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_redemption_org_id"))
        batch_op.drop_index(batch_op.f("ix_offer_redemption_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_offer_redemption_offer_id"))
    op.drop_table("offer_redemption")
    with op.batch_alter_table("offer_pool", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_pool_offer_id"))
    op.drop_table("offer_pool")
    with op.batch_alter_table("offer_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_version_offer_id"))
    op.drop_table("offer_version")
    op.drop_table("offer")
