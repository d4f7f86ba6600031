"""tasks: front-line tasks and their history

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00.000000

``frontline_task`` holds one task per front-line contact of a targeting run;
``(run_id, case_id, subscriber_id)`` is unique, so generating a run twice
creates nothing new. ``org_path`` is the assigned unit's path (the org-scope
filter, indexed for prefix matches on PostgreSQL); ``version`` is the
optimistic lock; a CHECK keeps outcome, time and recorder together with the
done state. ``frontline_task_event`` is the append-only history, one row per
change, ``seq`` unique per task.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "frontline_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_code", sa.String(length=20), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("offer_code", sa.String(length=40), nullable=True),
        sa.Column("city_code", sa.String(length=40), nullable=True),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column("org_path", sa.String(length=400), nullable=False),
        sa.Column("staff_code", sa.String(length=40), nullable=True),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("open", "done", "cancelled", name="taskstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "reached",
                "accepted",
                "declined",
                "unreachable",
                name="outcome",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("done_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=120), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(state = 'done') = (outcome IS NOT NULL AND done_at IS NOT NULL "
            "AND done_by IS NOT NULL)",
            name=op.f("ck_frontline_task_done_has_outcome"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'done', 'cancelled')", name=op.f("ck_frontline_task_state_known")
        ),
        sa.CheckConstraint(
            "due_on >= planned_on", name=op.f("ck_frontline_task_due_after_planned")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_frontline_task_version_positive")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["targeting_run.id"], name=op.f("fk_frontline_task_run_id_targeting_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frontline_task")),
        sa.UniqueConstraint(
            "run_id",
            "case_id",
            "subscriber_id",
            name=op.f("uq_frontline_task_run_id_case_id_subscriber_id"),
        ),
    )
    op.create_index(op.f("ix_frontline_task_case_id"), "frontline_task", ["case_id"], unique=False)
    op.create_index(op.f("ix_frontline_task_done_by"), "frontline_task", ["done_by"], unique=False)
    op.create_index(
        op.f("ix_frontline_task_org_code"), "frontline_task", ["org_code"], unique=False
    )
    op.create_index(
        "ix_frontline_task_org_path",
        "frontline_task",
        ["org_path"],
        unique=False,
        postgresql_ops={"org_path": "varchar_pattern_ops"},
    )
    op.create_index(
        op.f("ix_frontline_task_staff_code"), "frontline_task", ["staff_code"], unique=False
    )
    op.create_index(
        "ix_frontline_task_state_due_on", "frontline_task", ["state", "due_on"], unique=False
    )
    op.create_table(
        "frontline_task_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "record",
                "correct",
                "reassign",
                "cancel",
                name="taskaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "from_state",
            sa.Enum("open", "done", "cancelled", name="taskstate", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum("open", "done", "cancelled", name="taskstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "reached",
                "accepted",
                "declined",
                "unreachable",
                name="outcome",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column("staff_code", sa.String(length=40), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_frontline_task_event_seq_positive")),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["frontline_task.id"],
            name=op.f("fk_frontline_task_event_task_id_frontline_task"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frontline_task_event")),
        sa.UniqueConstraint("task_id", "seq", name=op.f("uq_frontline_task_event_task_id_seq")),
    )
    op.create_index(
        op.f("ix_frontline_task_event_task_id"), "frontline_task_event", ["task_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_frontline_task_event_task_id"), table_name="frontline_task_event")
    op.drop_table("frontline_task_event")
    op.drop_index("ix_frontline_task_state_due_on", table_name="frontline_task")
    op.drop_index(op.f("ix_frontline_task_staff_code"), table_name="frontline_task")
    op.drop_index(
        "ix_frontline_task_org_path",
        table_name="frontline_task",
        postgresql_ops={"org_path": "varchar_pattern_ops"},
    )
    op.drop_index(op.f("ix_frontline_task_org_code"), table_name="frontline_task")
    op.drop_index(op.f("ix_frontline_task_done_by"), table_name="frontline_task")
    op.drop_index(op.f("ix_frontline_task_case_id"), table_name="frontline_task")
    op.drop_table("frontline_task")
