"""cases: marketing cases, their transitions, issues down the organisation, alerts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 09:00:00.000000

``marketing_case`` holds a case and its plan; ``version`` is the optimistic
lock every change bumps with ``UPDATE ... WHERE id=? AND version=?``.
``case_transition`` is the append-only timeline (one row per action, approvals
at one level included). ``case_issue`` is the issue tree: a province case
issued to cities, cities re-issuing to outlets or account managers.
``case_alert`` holds overdue-acknowledgement alerts, one per issue and kind.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "scheduled",
    "issued",
    "running",
    "paused",
    "completed",
    "evaluated",
    "closed",
    "cancelled",
)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, telmark.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "marketing_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("level", _enum("caselevel", "province", "city"), nullable=False),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column(
            "objective",
            _enum(
                "objective",
                "acquire",
                "retain",
                "activate",
                "convert",
                "upsell",
                "cross_sell",
                "win_back",
            ),
            nullable=False,
        ),
        sa.Column("template", sa.String(length=40), nullable=True),
        sa.Column("hypothesis", sa.String(length=2000), nullable=False),
        sa.Column("claim", sa.JSON(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("horizon_months", sa.Integer(), nullable=False),
        sa.Column("checkpoints", sa.JSON(), nullable=False),
        sa.Column("kpis", sa.JSON(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("holdout_bp", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("business_weight_bp", sa.Integer(), nullable=False),
        sa.Column("status", _enum("casestatus", *STATUSES), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("approval_levels", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(length=120), nullable=True),
        sa.Column("frozen_projection", sa.JSON(), nullable=True),
        _at("frozen_at", nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.CheckConstraint("version >= 1", name=op.f("ck_marketing_case_version_positive")),
        sa.CheckConstraint(
            "submission >= 0", name=op.f("ck_marketing_case_submission_not_negative")
        ),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_marketing_case_schedule_order")),
        sa.CheckConstraint(
            "horizon_months BETWEEN 1 AND 60", name=op.f("ck_marketing_case_horizon_range")
        ),
        sa.CheckConstraint("budget_fen >= 0", name=op.f("ck_marketing_case_budget_not_negative")),
        sa.CheckConstraint(
            "holdout_bp BETWEEN 0 AND 5000", name=op.f("ck_marketing_case_holdout_range")
        ),
        sa.CheckConstraint(
            "priority BETWEEN 1 AND 9", name=op.f("ck_marketing_case_priority_range")
        ),
        sa.CheckConstraint(
            "business_weight_bp BETWEEN 0 AND 10000", name=op.f("ck_marketing_case_weight_range")
        ),
        sa.CheckConstraint(
            "(frozen_projection IS NULL) = (frozen_at IS NULL)",
            name=op.f("ck_marketing_case_frozen_together"),
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["segment_snapshot.id"],
            name=op.f("fk_marketing_case_snapshot_id_segment_snapshot"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_case")),
        sa.UniqueConstraint("code", name=op.f("uq_marketing_case_code")),
    )
    with op.batch_alter_table("marketing_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_marketing_case_org_code"), ["org_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_marketing_case_status"), ["status"], unique=False)

    op.create_table(
        "case_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", _enum("casestatus", *STATUSES), nullable=True),
        sa.Column("to_status", _enum("casestatus", *STATUSES), nullable=False),
        sa.Column("level", _enum("caselevel", "province", "city"), nullable=True),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        _at("created_at"),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_case_transition_seq_positive")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["marketing_case.id"],
            name=op.f("fk_case_transition_case_id_marketing_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_transition")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_transition_case_id_seq")),
    )
    with op.batch_alter_table("case_transition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_transition_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_issue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column("staff_code", sa.String(length=40), nullable=True),
        sa.Column("assignee", sa.String(length=60), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("status", _enum("issuestatus", "issued", "acknowledged"), nullable=False),
        _at("due_at"),
        sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
        _at("acknowledged_at", nullable=True),
        sa.Column("local_rule", sa.JSON(), nullable=True),
        sa.Column("local_outlets", sa.JSON(), nullable=False),
        sa.Column("local_channels", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        _at("created_at"),
        sa.CheckConstraint("target >= 0", name=op.f("ck_case_issue_target_not_negative")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_case_issue_version_positive")),
        sa.CheckConstraint(
            "(status = 'acknowledged') = (acknowledged_at IS NOT NULL)",
            name=op.f("ck_case_issue_ack_matches_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["marketing_case.id"], name=op.f("fk_case_issue_case_id_marketing_case")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["case_issue.id"], name=op.f("fk_case_issue_parent_id_case_issue")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_issue")),
        sa.UniqueConstraint("case_id", "assignee", name=op.f("uq_case_issue_case_id_assignee")),
    )
    with op.batch_alter_table("case_issue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_issue_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_issue_org_code"), ["org_code"], unique=False)

    op.create_table(
        "case_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("alertkind", "ack_overdue"), nullable=False),
        sa.Column(
            "status", _enum("alertstatus", "open", "acknowledged", "resolved"), nullable=False
        ),
        sa.Column("message", sa.String(length=500), nullable=False),
        _at("raised_at"),
        sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
        _at("acknowledged_at", nullable=True),
        _at("resolved_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["marketing_case.id"], name=op.f("fk_case_alert_case_id_marketing_case")
        ),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["case_issue.id"], name=op.f("fk_case_alert_issue_id_case_issue")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_alert")),
        sa.UniqueConstraint("issue_id", "kind", name=op.f("uq_case_alert_issue_id_kind")),
    )
    with op.batch_alter_table("case_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_alert_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_alert_case_id"))
    op.drop_table("case_alert")
    with op.batch_alter_table("case_issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_issue_org_code"))
        batch_op.drop_index(batch_op.f("ix_case_issue_case_id"))
    op.drop_table("case_issue")
    with op.batch_alter_table("case_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_transition_case_id"))
    op.drop_table("case_transition")
    with op.batch_alter_table("marketing_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_marketing_case_status"))
        batch_op.drop_index(batch_op.f("ix_marketing_case_org_code"))
    op.drop_table("marketing_case")
