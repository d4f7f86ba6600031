"""segments: saved segments and their append-only rule versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 15:20:00.000000

A segment carries the org code of the unit that owns it (the service filters
by the reader's scope); each edit appends a ``segment_version`` row, unique
per (segment, version).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "archived", name="segmentstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("current_version >= 1", name=op.f("ck_segment_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment")),
    )
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_segment_org_code"), ["org_code"], unique=False)

    op.create_table(
        "segment_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_segment_version_version_positive")),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segment.id"],
            name=op.f("fk_segment_version_segment_id_segment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_version")),
        sa.UniqueConstraint(
            "segment_id", "version", name=op.f("uq_segment_version_segment_id_version")
        ),
    )
    with op.batch_alter_table("segment_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_segment_version_segment_id"), ["segment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("segment_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segment_version_segment_id"))
    op.drop_table("segment_version")
    with op.batch_alter_table("segment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_segment_org_code"))
    op.drop_table("segment")
