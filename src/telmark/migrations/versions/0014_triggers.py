"""triggers: trigger rules, one decision per event, trigger contacts in the outbox

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 10:00:00.000000

``trigger_rule`` makes a case event-driven (one per case). ``trigger_decision``
holds one row per event (``event_id`` unique: decided once, ever). A trigger's
contact is an ``outbox`` row without a targeting run: ``outbox.run_id`` becomes
nullable and ``outbox.trigger_decision_id`` points at its decision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_TYPES = "'quota_80', 'balance_low', 'contract_ends', 'roaming_start', 'complaint_closed'"
REASONS = (
    "'unknown_subscriber', 'no_case', 'condition', 'outside_area', 'not_eligible', "
    "'no_channel', 'consent', 'global_holdout', 'cooldown', 'daily_limit', 'min_gap', 'cap', "
    "'channel_cap'"
)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trigger_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("condition", sa.JSON(), nullable=True),
        sa.Column("cooldown_days", sa.Integer(), nullable=False),
        sa.Column("max_per_day", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"event_type IN ({EVENT_TYPES})", name=op.f("ck_trigger_rule_event_type_known")
        ),
        sa.CheckConstraint(
            "cooldown_days BETWEEN 0 AND 365", name=op.f("ck_trigger_rule_cooldown_range")
        ),
        sa.CheckConstraint(
            "max_per_day IS NULL OR max_per_day >= 1",
            name=op.f("ck_trigger_rule_max_per_day_positive"),
        ),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_trigger_rule_revision_positive")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["marketing_case.id"], name=op.f("fk_trigger_rule_case_id_marketing_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_rule")),
        sa.UniqueConstraint("case_id", name=op.f("uq_trigger_rule_case_id")),
    )
    op.create_table(
        "trigger_decision",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.String(length=80), nullable=False),
        sa.Column("event_type", sa.String(length=24), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=True),
        sa.Column("msisdn", sa.String(length=20), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("case_code", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("offer_code", sa.String(length=60), nullable=True),
        sa.Column("city_id", sa.String(length=40), nullable=True),
        sa.Column("outlet_id", sa.String(length=40), nullable=True),
        sa.Column("send_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            f"event_type IN ({EVENT_TYPES})", name=op.f("ck_trigger_decision_event_type_known")
        ),
        sa.CheckConstraint(
            "outcome IN ('contact', 'control', 'excluded')",
            name=op.f("ck_trigger_decision_outcome_known"),
        ),
        sa.CheckConstraint(
            f"reason IS NULL OR reason IN ({REASONS})",
            name=op.f("ck_trigger_decision_reason_known"),
        ),
        sa.CheckConstraint(
            "(outcome = 'excluded') = (reason IS NOT NULL)",
            name=op.f("ck_trigger_decision_excluded_has_reason"),
        ),
        sa.CheckConstraint(
            "outcome = 'excluded' OR (case_id IS NOT NULL AND channel IS NOT NULL)",
            name=op.f("ck_trigger_decision_decided_has_case"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["marketing_case.id"],
            name=op.f("fk_trigger_decision_case_id_marketing_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_decision")),
        sa.UniqueConstraint("event_id", name=op.f("uq_trigger_decision_event_id")),
    )
    with op.batch_alter_table("trigger_decision", schema=None) as batch_op:
        batch_op.create_index("ix_trigger_decision_decided_at", ["decided_at"], unique=False)
        batch_op.create_index(
            "ix_trigger_decision_case_decided", ["case_id", "decided_at"], unique=False
        )
    # SQLite cannot alter a column in place: batch mode copies the table (constraints kept).
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("run_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("trigger_decision_id", BIG_ID, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_trigger_decision_id"), ["trigger_decision_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_trigger_decision_id_trigger_decision"),
            "trigger_decision",
            ["trigger_decision_id"],
            ["id"],
        )


def downgrade() -> None:
    # Trigger contacts have no run: they cannot stay once run_id is required again.
    op.execute("DELETE FROM outbox_provider_id WHERE outbox_id IN "
               "(SELECT id FROM outbox WHERE run_id IS NULL)")  # fmt: skip
    op.execute("DELETE FROM outbox_attempt WHERE outbox_id IN "
               "(SELECT id FROM outbox WHERE run_id IS NULL)")  # fmt: skip
    op.execute("DELETE FROM outbox WHERE run_id IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_trigger_decision_id_trigger_decision"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_trigger_decision_id"))
        batch_op.drop_column("trigger_decision_id")
        batch_op.alter_column("run_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("trigger_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_trigger_decision_case_decided")
        batch_op.drop_index("ix_trigger_decision_decided_at")
    op.drop_table("trigger_decision")
    op.drop_table("trigger_rule")
