"""segment snapshots: frozen member lists of a rule version

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 16:30:00.000000

One row per snapshot: the rule version (a composite foreign key to
``segment_version``), as-of month, data date, the org unit whose scope it was
taken in, status (building → ready | failed), and the member file's location
(relative to the snapshot directory), SHA-256 and size. The idempotency key is
unique per segment, so a retried request finds the snapshot it started.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("data_date", sa.Date(), nullable=False),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "building", "ready", "failed", name="snapshotstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("member_count", sa.Integer(), nullable=True),
        sa.Column("file_path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("byte_size", sa.BigInteger(), nullable=True),
        sa.Column("failure", sa.String(length=1000), nullable=True),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('building', 'ready', 'failed')",
            name=op.f("ck_segment_snapshot_status_known"),
        ),
        sa.CheckConstraint(
            "member_count IS NULL OR member_count >= 0",
            name=op.f("ck_segment_snapshot_count_not_negative"),
        ),
        sa.CheckConstraint(
            "status != 'ready' OR (member_count IS NOT NULL AND sha256 IS NOT NULL "
            "AND byte_size IS NOT NULL AND completed_at IS NOT NULL)",
            name=op.f("ck_segment_snapshot_ready_is_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segment.id"], name=op.f("fk_segment_snapshot_segment_id_segment")
        ),
        sa.ForeignKeyConstraint(
            ["segment_id", "version"],
            ["segment_version.segment_id", "segment_version.version"],
            name=op.f("fk_segment_snapshot_segment_id_segment_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_snapshot")),
        sa.UniqueConstraint(
            "segment_id",
            "idempotency_key",
            name=op.f("uq_segment_snapshot_segment_id_idempotency_key"),
        ),
    )
    with op.batch_alter_table("segment_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_segment_snapshot_segment_id"), ["segment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_segment_snapshot_org_code"), ["org_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("segment_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segment_snapshot_org_code"))
        batch_op.drop_index(batch_op.f("ix_segment_snapshot_segment_id"))
    op.drop_table("segment_snapshot")
