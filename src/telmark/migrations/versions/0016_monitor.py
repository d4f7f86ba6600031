"""monitor: alerts of the execution monitor on case_alert, and per-unit alert settings

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:00:00.000000

``case_alert`` now also holds the execution monitor's alerts, which concern a
case (or a city of it) rather than an issue: ``issue_id`` becomes optional and
such an alert is unique per case, kind and ``dedupe_key`` instead (a CHECK
demands one of the two keys). New columns carry the unit concerned, the
figures behind the alert, the notes of whoever acknowledged and resolved it,
and its e-mail state; alerts raised before this revision are marked
``skipped`` so the first scan does not mail old news. ``monitor_setting`` holds
a unit's alert thresholds and e-mail recipients.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, telmark.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "monitor_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_code", sa.String(length=40), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_setting")),
        sa.UniqueConstraint("org_code", name=op.f("uq_monitor_setting_org_code")),
    )
    with op.batch_alter_table("case_alert", schema=None) as batch_op:
        batch_op.alter_column("issue_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("org_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("ack_note", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("resolve_note", sa.String(length=1000), nullable=True))
        batch_op.add_column(
            sa.Column("email_state", sa.String(length=16), nullable=False, server_default="skipped")
        )
        batch_op.add_column(
            sa.Column("email_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(_at("emailed_at", nullable=True))
        batch_op.add_column(sa.Column("email_error", sa.String(length=500), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_case_alert_case_id_kind_dedupe_key"), ["case_id", "kind", "dedupe_key"]
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_case_alert_keyed"), "issue_id IS NOT NULL OR dedupe_key IS NOT NULL"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_case_alert_email_attempts_not_negative"), "email_attempts >= 0"
        )
    # The existing rows are "skipped" (server default above); new rows state their own.
    with op.batch_alter_table("case_alert", schema=None) as batch_op:
        batch_op.alter_column(
            "email_state", existing_type=sa.String(length=16), server_default=None
        )
        batch_op.alter_column("email_attempts", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM case_alert WHERE issue_id IS NULL")
    with op.batch_alter_table("case_alert", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_case_alert_email_attempts_not_negative"), type_="check"
        )
        batch_op.drop_constraint(batch_op.f("ck_case_alert_keyed"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("uq_case_alert_case_id_kind_dedupe_key"), type_="unique"
        )
        for column in (
            "email_error", "emailed_at", "email_attempts", "email_state", "resolve_note",
            "resolved_by", "ack_note", "details", "org_code", "dedupe_key",
        ):  # fmt: skip
            batch_op.drop_column(column)
        batch_op.alter_column("issue_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("monitor_setting")
