"""case evaluation: recorded evaluations of marketing cases

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 09:00:00.000000

``case_evaluation`` keeps every recorded evaluation of a case (treatment
against control, projection against actual): the headline figures as columns
for the league, the full results as JSON, who recorded it, when, and the data
cut-off. A case moves to ``evaluated`` only with one recorded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str) -> sa.Column[object]:
    return sa.Column(name, telmark.db.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "case_evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_code", sa.String(length=20), nullable=False),
        _at("cutoff_at"),
        sa.Column("exposed_treatment", sa.Integer(), nullable=False),
        sa.Column("exposed_control", sa.Integer(), nullable=False),
        sa.Column("uplift", sa.Double(), nullable=True),
        sa.Column("significant", sa.Boolean(), nullable=False),
        sa.Column("incremental_revenue_fen", sa.BigInteger(), nullable=True),
        sa.Column("cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("roi_bp", sa.BigInteger(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        _at("recorded_at"),
        sa.CheckConstraint(
            "exposed_treatment >= 0 AND exposed_control >= 0",
            name=op.f("ck_case_evaluation_exposed_not_negative"),
        ),
        sa.CheckConstraint("cost_fen >= 0", name=op.f("ck_case_evaluation_cost_not_negative")),
        sa.CheckConstraint(
            "cutoff_at <= recorded_at", name=op.f("ck_case_evaluation_cutoff_before_recording")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["marketing_case.id"],
            name=op.f("fk_case_evaluation_case_id_marketing_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_evaluation")),
    )
    op.create_index(
        "ix_case_evaluation_case_recorded", "case_evaluation", ["case_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_case_evaluation_case_recorded", table_name="case_evaluation")
    op.drop_table("case_evaluation")
