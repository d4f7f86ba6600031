"""uplift model registry

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:00:00.000000

One row per trained uplift model version: the cases (or file) it learned
from, its holdout Qini coefficient and AUUC, its artifact's path and SHA-256.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uplift_models",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "trained",
                "scored",
                name="uplift_model_status",
                native_enum=False,
                length=16,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "cases",
                "file",
                name="uplift_model_source",
                native_enum=False,
                length=16,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=True),
        sa.Column("trained_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trained_by", sa.String(length=120), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("feature_month", sa.Date(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("treated", sa.Integer(), nullable=False),
        sa.Column("responders", sa.Integer(), nullable=False),
        sa.Column("holdout_rows", sa.Integer(), nullable=False),
        sa.Column("qini", sa.Double(), nullable=False),
        sa.Column("auuc", sa.Double(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact_path", sa.String(length=1000), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("scored_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scored_rows", sa.Integer(), nullable=True),
        sa.Column("scored_month", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "treated >= 0 AND treated <= rows", name=op.f("ck_uplift_models_treated_within_rows")
        ),
        sa.CheckConstraint(
            "responders >= 0 AND responders <= rows",
            name=op.f("ck_uplift_models_responders_within_rows"),
        ),
        sa.CheckConstraint(
            "holdout_rows > 0 AND holdout_rows < rows",
            name=op.f("ck_uplift_models_holdout_within_rows"),
        ),
        sa.CheckConstraint(
            "status != 'scored' OR (scored_at IS NOT NULL AND scored_rows IS NOT NULL "
            "AND scored_month IS NOT NULL)",
            name=op.f("ck_uplift_models_scored_is_complete"),
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_uplift_models")),
    )


def downgrade() -> None:
    op.drop_table("uplift_models")
