"""churn model registry

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:30:00.000000

One row per trained churn model version; a partial unique index keeps
exactly one of them active.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "churn_models",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "retired",
                name="churn_model_status",
                native_enum=False,
                length=16,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("trained_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trained_by", sa.String(length=120), nullable=False),
        sa.Column("feature_month", sa.Date(), nullable=False),
        sa.Column("label_month", sa.Date(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("auc", sa.Double(), nullable=False),
        sa.Column("baseline_auc", sa.Double(), nullable=False),
        sa.Column("calibration_method", sa.String(length=16), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact_path", sa.String(length=1000), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("scored_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scored_rows", sa.Integer(), nullable=True),
        sa.Column("scored_month", sa.Date(), nullable=True),
        sa.CheckConstraint("auc >= 0 AND auc <= 1", name=op.f("ck_churn_models_auc_range")),
        sa.CheckConstraint(
            "positives >= 0 AND positives <= rows",
            name=op.f("ck_churn_models_positives_within_rows"),
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_churn_models")),
    )
    with op.batch_alter_table("churn_models", schema=None) as batch_op:
        batch_op.create_index(
            "uq_churn_models_one_active",
            ["status"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("churn_models", schema=None) as batch_op:
        batch_op.drop_index("uq_churn_models_one_active")
    op.drop_table("churn_models")
