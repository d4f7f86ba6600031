"""execution: the outbox, its attempts and provider ids, and message templates

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 10:00:00.000000

``outbox`` holds one row per planned contact of a targeting run (idempotency
key unique), with its state, lease and send window; ``ix_outbox_claim``
serves the dispatcher's claim query. ``outbox_attempt`` is append-only, one row
per send; ``outbox_provider_id`` maps provider message ids (SMS: one per
segment) to rows for delivery receipts. ``outbox_template`` is one message
template per case and channel.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_code", sa.String(length=20), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("offer_code", sa.String(length=60), nullable=True),
        sa.Column("city_id", sa.String(length=40), nullable=True),
        sa.Column("outlet_id", sa.String(length=40), nullable=True),
        sa.Column("account_manager_id", sa.String(length=40), nullable=True),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("send_from", sa.String(length=5), nullable=True),
        sa.Column("send_until", sa.String(length=5), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "sending",
                "sent",
                "delivered",
                "failed",
                "cancelled",
                "suppressed",
                "responded",
                name="outboxstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("in_doubt_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_ids", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sending_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('sms', 'email', 'app_push', 'wechat')",
            name=op.f("ck_outbox_channel_known"),
        ),
        sa.CheckConstraint(
            "state != 'sending' OR (claimed_by IS NOT NULL AND claimed_until IS NOT NULL)",
            name=op.f("ck_outbox_sending_is_leased"),
        ),
        sa.CheckConstraint(
            "state IN ('planned', 'sending', 'sent', 'delivered', 'failed', 'cancelled', "
            "'suppressed', 'responded')",
            name=op.f("ck_outbox_state_known"),
        ),
        sa.CheckConstraint(
            "state NOT IN ('cancelled', 'suppressed') OR reason IS NOT NULL",
            name=op.f("ck_outbox_stopped_has_reason"),
        ),
        sa.CheckConstraint(
            "state NOT IN ('sent', 'delivered', 'responded') OR sent_at IS NOT NULL",
            name=op.f("ck_outbox_sent_has_time"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["marketing_case.id"], name=op.f("fk_outbox_case_id_marketing_case")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["targeting_run.id"], name=op.f("fk_outbox_run_id_targeting_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_case_state", ["case_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_city_id"), ["city_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_claim", ["channel", "state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_run_id"), ["run_id"], unique=False)

    op.create_table(
        "outbox_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('sms', 'email', 'app_push', 'wechat')",
            name=op.f("ck_outbox_template_channel_known"),
        ),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_outbox_template_revision_positive")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["marketing_case.id"],
            name=op.f("fk_outbox_template_case_id_marketing_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_template")),
        sa.UniqueConstraint("case_id", "channel", name=op.f("uq_outbox_template_case_id_channel")),
    )
    op.create_table(
        "outbox_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("started_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "accepted",
                "transient",
                "permanent",
                "confirmed",
                "lost",
                name="attemptoutcome",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("provider_ids", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'transient', 'permanent', 'confirmed', 'lost')",
            name=op.f("ck_outbox_attempt_outcome_known"),
        ),
        sa.CheckConstraint("attempt_no >= 1", name=op.f("ck_outbox_attempt_attempt_no_positive")),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_outbox_attempt_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attempt")),
        sa.UniqueConstraint(
            "outbox_id", "attempt_no", name=op.f("uq_outbox_attempt_outbox_id_attempt_no")
        ),
    )
    op.create_table(
        "outbox_provider_id",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column(
            "outbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=16), nullable=True),
        sa.Column("receipt_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("segment >= 0", name=op.f("ck_outbox_provider_id_segment_not_negative")),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_outbox_provider_id_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_provider_id")),
        sa.UniqueConstraint(
            "channel", "provider_id", name=op.f("uq_outbox_provider_id_channel_provider_id")
        ),
    )
    with op.batch_alter_table("outbox_provider_id", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_provider_id_outbox_id"), ["outbox_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_provider_id", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_provider_id_outbox_id"))

    op.drop_table("outbox_provider_id")
    op.drop_table("outbox_attempt")
    op.drop_table("outbox_template")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_run_id"))
        batch_op.drop_index("ix_outbox_claim")
        batch_op.drop_index(batch_op.f("ix_outbox_city_id"))
        batch_op.drop_index("ix_outbox_case_state")

    op.drop_table("outbox")
