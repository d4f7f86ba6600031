"""catalog: products, their append-only price versions and bundle components

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 17:28:07.058711

A product's code is the warehouse's ``products.product_id``; a version is never
updated (a price change appends one, unique per product and start day); a
bundle version lists its components, which must be catalog products.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "plan",
                "bundle",
                "addon",
                "broadband",
                "iptv",
                "handset_contract",
                name="productkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("family", sa.String(length=24), nullable=False),
        sa.Column(
            "payment_type",
            sa.Enum("prepaid", "postpaid", "any", name="paymenttype", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("on_sale", "retired", name="productstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("retired_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'retired') = (retired_on IS NOT NULL)",
            name=op.f("ck_catalog_product_retired_has_date"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_product")),
        sa.UniqueConstraint("code", name=op.f("uq_catalog_product_code")),
    )
    op.create_table(
        "catalog_product_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("entered", "warehouse", name="versionsource", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("monthly_fee_fen", sa.Integer(), nullable=False),
        sa.Column("data_mb", sa.Integer(), nullable=True),
        sa.Column("voice_min", sa.Integer(), nullable=True),
        sa.Column("is_5g", sa.Boolean(), nullable=False),
        sa.Column("speed_mbps", sa.Integer(), nullable=True),
        sa.Column("iptv_channels", sa.Integer(), nullable=True),
        sa.Column("iptv_package", sa.String(length=120), nullable=True),
        sa.Column("device_model", sa.String(length=120), nullable=True),
        sa.Column("device_price_fen", sa.Integer(), nullable=True),
        sa.Column("subsidy_fen", sa.Integer(), nullable=True),
        sa.Column("lock_in_months", sa.Integer(), nullable=True),
        sa.Column("min_monthly_spend_fen", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "COALESCE(data_mb, 0) >= 0 AND COALESCE(voice_min, 0) >= 0",
            name=op.f("ck_catalog_product_version_allowances_not_negative"),
        ),
        sa.CheckConstraint(
            "lock_in_months IS NULL OR lock_in_months BETWEEN 1 AND 60",
            name=op.f("ck_catalog_product_version_lock_in_range"),
        ),
        sa.CheckConstraint(
            "monthly_fee_fen BETWEEN 0 AND 10000000",
            name=op.f("ck_catalog_product_version_fee_range"),
        ),
        sa.CheckConstraint(
            "subsidy_fen IS NULL OR (subsidy_fen >= 0 AND subsidy_fen <= device_price_fen)",
            name=op.f("ck_catalog_product_version_subsidy_within_price"),
        ),
        sa.CheckConstraint(
            "version >= 1", name=op.f("ck_catalog_product_version_version_positive")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["catalog_product.id"],
            name=op.f("fk_catalog_product_version_product_id_catalog_product"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_product_version")),
        sa.UniqueConstraint(
            "product_id",
            "valid_from",
            name=op.f("uq_catalog_product_version_product_id_valid_from"),
        ),
        sa.UniqueConstraint(
            "product_id", "version", name=op.f("uq_catalog_product_version_product_id_version")
        ),
    )
    with op.batch_alter_table("catalog_product_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_product_version_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "catalog_bundle_component",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("component_code", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("fee_share_fen", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "fee_share_fen >= 0", name=op.f("ck_catalog_bundle_component_share_not_negative")
        ),
        sa.CheckConstraint(
            "quantity BETWEEN 1 AND 10", name=op.f("ck_catalog_bundle_component_quantity_range")
        ),
        sa.ForeignKeyConstraint(
            ["component_code"],
            ["catalog_product.code"],
            name=op.f("fk_catalog_bundle_component_component_code_catalog_product"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["catalog_product_version.id"],
            name=op.f("fk_catalog_bundle_component_version_id_catalog_product_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_bundle_component")),
        sa.UniqueConstraint(
            "version_id",
            "component_code",
            name=op.f("uq_catalog_bundle_component_version_id_component_code"),
        ),
    )
    with op.batch_alter_table("catalog_bundle_component", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_bundle_component_version_id"), ["version_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_bundle_component", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_bundle_component_version_id"))

    op.drop_table("catalog_bundle_component")
    with op.batch_alter_table("catalog_product_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_product_version_product_id"))

    op.drop_table("catalog_product_version")
    op.drop_table("catalog_product")
