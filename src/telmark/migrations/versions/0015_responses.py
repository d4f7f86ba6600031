"""responses: response events, exposures, attributions, and a case's attribution window

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 10:00:00.000000

``response_event`` holds order and guardrail events (``event_id`` unique: an
import or API batch sent twice stores nothing twice), each in the
``response_import`` batch that added it. ``response_exposure`` holds who each
case reached (outbox contacts, front-line tasks) or held back (control rows of
targeting runs), unique per source row; ``response_control_load`` remembers the
runs whose control rows were read. ``response_attribution`` is each event's
last touch per case (``event_id`` + ``case_id`` unique). ``marketing_case``
gains ``attribution_days`` (NULL: the ``response_attribution_days`` setting).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPES = "'offer_accepted', 'plan_change', 'addon_bought', 'port_out', 'complaint', 'opt_out'"
GROUPS = "'treatment', 'control'"
KINDS = "'outbox', 'task', 'control'"
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("marketing_case", sa.Column("attribution_days", sa.Integer(), nullable=True))
    op.create_table(
        "response_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("new_events", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rows >= 0 AND new_events >= 0", name=op.f("ck_response_import_counts_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_import")),
    )
    op.create_table(
        "response_event",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("offer_code", sa.String(length=40), nullable=True),
        sa.Column("product_code", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revenue_fen", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"type IN ({TYPES})", name=op.f("ck_response_event_type_known")),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["response_import.id"],
            name=op.f("fk_response_event_import_id_response_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_response_event_event_id")),
    )
    op.create_index(
        op.f("ix_response_event_import_id"), "response_event", ["import_id"], unique=False
    )
    op.create_index(
        "ix_response_event_subscriber_time",
        "response_event",
        ["subscriber_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "response_exposure",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_code", sa.String(length=20), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("group", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("offer_code", sa.String(length=40), nullable=True),
        sa.Column("city_id", sa.String(length=40), nullable=True),
        sa.Column("outlet_id", sa.String(length=40), nullable=True),
        sa.Column("account_manager_id", sa.String(length=40), nullable=True),
        sa.Column("org_path", sa.String(length=400), nullable=True),
        sa.Column("exposed_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_response_exposure_kind_known")),
        sa.CheckConstraint(f'"group" IN ({GROUPS})', name=op.f("ck_response_exposure_group_known")),
        sa.CheckConstraint(
            "kind = 'control' OR \"group\" = 'treatment'",
            name=op.f("ck_response_exposure_contact_is_treatment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_exposure")),
        sa.UniqueConstraint(
            "kind",
            "ref",
            "case_id",
            "subscriber_id",
            name=op.f("uq_response_exposure_kind_ref_case_id_subscriber_id"),
        ),
    )
    op.create_index(
        "ix_response_exposure_subscriber_time",
        "response_exposure",
        ["subscriber_id", "exposed_at"],
        unique=False,
    )
    op.create_index(
        "ix_response_exposure_case_group", "response_exposure", ["case_id", "group"], unique=False
    )
    op.create_table(
        "response_control_load",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("controls", sa.Integer(), nullable=False),
        sa.Column("loaded_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["targeting_run.id"],
            name=op.f("fk_response_control_load_run_id_targeting_run"),
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_response_control_load")),
    )
    op.create_table(
        "response_attribution",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_code", sa.String(length=20), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revenue_fen", sa.BigInteger(), nullable=False),
        sa.Column("exposure_id", BIG_ID, nullable=False),
        sa.Column("group", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.BigInteger(), nullable=False),
        sa.Column("exposed_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("offer_code", sa.String(length=40), nullable=True),
        sa.Column("city_id", sa.String(length=40), nullable=True),
        sa.Column("outlet_id", sa.String(length=40), nullable=True),
        sa.Column("account_manager_id", sa.String(length=40), nullable=True),
        sa.Column("org_path", sa.String(length=400), nullable=True),
        sa.Column("attributed_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "exposed_at <= occurred_at", name=op.f("ck_response_attribution_exposed_before_event")
        ),
        sa.CheckConstraint(f"type IN ({TYPES})", name=op.f("ck_response_attribution_type_known")),
        sa.CheckConstraint(
            f'"group" IN ({GROUPS})', name=op.f("ck_response_attribution_group_known")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["response_event.event_id"],
            name=op.f("fk_response_attribution_event_id_response_event"),
        ),
        sa.ForeignKeyConstraint(
            ["exposure_id"],
            ["response_exposure.id"],
            name=op.f("fk_response_attribution_exposure_id_response_exposure"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_attribution")),
        sa.UniqueConstraint(
            "event_id", "case_id", name=op.f("uq_response_attribution_event_id_case_id")
        ),
    )
    op.create_index(
        op.f("ix_response_attribution_exposure_id"),
        "response_attribution",
        ["exposure_id"],
        unique=False,
    )
    op.create_index(
        "ix_response_attribution_case_group",
        "response_attribution",
        ["case_id", "group"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_response_attribution_case_group", table_name="response_attribution")
    op.drop_index(op.f("ix_response_attribution_exposure_id"), table_name="response_attribution")
    op.drop_table("response_attribution")
    op.drop_table("response_control_load")
    op.drop_index("ix_response_exposure_case_group", table_name="response_exposure")
    op.drop_index("ix_response_exposure_subscriber_time", table_name="response_exposure")
    op.drop_table("response_exposure")
    op.drop_index("ix_response_event_subscriber_time", table_name="response_event")
    op.drop_index(op.f("ix_response_event_import_id"), table_name="response_event")
    op.drop_table("response_event")
    op.drop_table("response_import")
    with op.batch_alter_table("marketing_case") as batch:
        batch.drop_column("attribution_days")
