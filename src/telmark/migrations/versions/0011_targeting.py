"""targeting: versioned contact policy and targeting runs

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 10:00:00.000000

``contact_policy`` holds append-only versions of the province's contact
policy (caps per period and channel, minimum gap, quiet hours, global
holdout). ``targeting_run`` is one run per ``run_key``: running, complete
(with its list file's SHA-256 and the funnel/balance summary) or failed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("day", "week", "month", name="period", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("global_cap", sa.Integer(), nullable=False),
        sa.Column("channel_caps", sa.JSON(), nullable=False),
        sa.Column("min_gap_days", sa.Integer(), nullable=False),
        sa.Column("quiet_start_minute", sa.Integer(), nullable=False),
        sa.Column("quiet_end_minute", sa.Integer(), nullable=False),
        sa.Column("global_holdout_bp", sa.Integer(), nullable=False),
        sa.Column("global_holdout_key", sa.String(length=60), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_contact_policy_version_positive")),
        sa.CheckConstraint(
            "global_cap BETWEEN 1 AND 100", name=op.f("ck_contact_policy_cap_range")
        ),
        sa.CheckConstraint(
            "min_gap_days BETWEEN 0 AND 90", name=op.f("ck_contact_policy_gap_range")
        ),
        sa.CheckConstraint(
            "quiet_start_minute BETWEEN 0 AND 1439",
            name=op.f("ck_contact_policy_quiet_start_range"),
        ),
        sa.CheckConstraint(
            "quiet_end_minute BETWEEN 0 AND 1439", name=op.f("ck_contact_policy_quiet_end_range")
        ),
        sa.CheckConstraint(
            "global_holdout_bp BETWEEN 0 AND 9999", name=op.f("ck_contact_policy_holdout_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_policy")),
        sa.UniqueConstraint("version", name=op.f("uq_contact_policy_version")),
    )
    op.create_table(
        "targeting_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running", "complete", "failed", name="runstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("cases", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("file_path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("contacts", sa.BigInteger(), nullable=True),
        sa.Column("controls", sa.BigInteger(), nullable=True),
        sa.Column("failure", sa.String(length=1000), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'complete', 'failed')",
            name=op.f("ck_targeting_run_status_known"),
        ),
        sa.CheckConstraint(
            "status != 'complete' OR (sha256 IS NOT NULL AND byte_size IS NOT NULL "
            "AND contacts IS NOT NULL AND controls IS NOT NULL AND summary IS NOT NULL "
            "AND completed_at IS NOT NULL)",
            name=op.f("ck_targeting_run_complete_is_complete"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targeting_run")),
        sa.UniqueConstraint("run_key", name=op.f("uq_targeting_run_run_key")),
    )
    with op.batch_alter_table("targeting_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_targeting_run_run_on"), ["run_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("targeting_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_targeting_run_run_on"))
    op.drop_table("targeting_run")
    op.drop_table("contact_policy")
