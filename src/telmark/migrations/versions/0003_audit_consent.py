"""audit trail and consent register, both protected by triggers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:01:42.604259

The triggers are the database's half of "append-only": the application has
no update or delete path for audit entries, and the database refuses them
too, so neither a bug nor someone with a SQL prompt and the application's
credentials can rewrite history. Consent entries may not be deleted (they
are revoked) and, once revoked, not changed; of a live entry only the
revocation columns may be set.

SQLite note for later migrations: a batch ALTER rebuilds the table and drops
its triggers; a migration that batch-alters these tables must recreate them
(``create_triggers`` below).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import telmark.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_username", sa.String(length=120), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_entry_actor_username"), ["actor_username"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_entry_at"), ["at"], unique=False)
        batch_op.create_index("ix_audit_entry_entity", ["entity_type", "entity_id"], unique=False)

    op.create_table(
        "consent_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=400), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("encoding", sa.String(length=24), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("already_present", sa.Integer(), nullable=False),
        sa.Column("imported_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_import")),
        sa.UniqueConstraint("sha256", name=op.f("uq_consent_import_sha256")),
    )
    op.create_table(
        "consent_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "opt_out", "dnd", "blacklist", name="consentkind", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "sms",
                "email",
                "app_push",
                "outbound_call",
                "frontline",
                "all",
                name="channel",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "import", "manual", "customer_request", name="source", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("created_at", telmark.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("revoked_at", telmark.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=120), nullable=True),
        sa.Column("revoke_reason", sa.String(length=400), nullable=True),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL)",
            name=op.f("ck_consent_entry_revoked_with_actor"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["consent_import.id"],
            name=op.f("fk_consent_entry_import_id_consent_import"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_entry")),
    )
    with op.batch_alter_table("consent_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_entry_import_id"), ["import_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_entry_msisdn"), ["msisdn"], unique=False)
        batch_op.create_index(
            "uq_consent_entry_in_force",
            ["msisdn", "kind", "channel"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    create_triggers()


def downgrade() -> None:
    drop_triggers()
    with op.batch_alter_table("consent_entry", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_consent_entry_in_force",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_consent_entry_msisdn"))
        batch_op.drop_index(batch_op.f("ix_consent_entry_import_id"))

    op.drop_table("consent_entry")
    op.drop_table("consent_import")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_entity")
        batch_op.drop_index(batch_op.f("ix_audit_entry_at"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_actor_username"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_action"))

    op.drop_table("audit_entry")


# Columns of a consent entry that never change after it is created.
CONSENT_FIXED = (
    "msisdn",
    "kind",
    "channel",
    "source",
    "reason",
    "import_id",
    "created_at",
    "created_by",
)
APPEND_ONLY = "audit_entry is append-only"
NO_DELETE = "consent entries are revoked, not deleted"
REVOKE_ONLY = "a consent entry can only be revoked, once"


def _consent_changed(distinct: str) -> str:
    fixed = " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in CONSENT_FIXED)
    return f"{fixed} OR OLD.revoked_at IS NOT NULL"


def create_triggers() -> None:
    """Refuse UPDATE/DELETE of audit entries, DELETE and non-revoking UPDATE of consent entries."""
    if op.get_bind().dialect.name == "sqlite":
        for name, when, table, message in (
            ("audit_entry_no_update", "BEFORE UPDATE", "audit_entry", APPEND_ONLY),
            ("audit_entry_no_delete", "BEFORE DELETE", "audit_entry", APPEND_ONLY),
            ("consent_entry_no_delete", "BEFORE DELETE", "consent_entry", NO_DELETE),
            (
                "consent_entry_revoke_only",
                f"BEFORE UPDATE ON consent_entry WHEN {_consent_changed('IS NOT')}",
                None,
                REVOKE_ONLY,
            ),
        ):
            on = f" ON {table}" if table else ""
            op.execute(
                f"CREATE TRIGGER {name} {when}{on} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        return
    op.execute(
        """
        CREATE FUNCTION telmark_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% refused on %: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0];
        END
        $$
        """
    )
    for name, when, table, level, message in (
        ("audit_entry_append_only", "UPDATE OR DELETE", "audit_entry", "ROW", APPEND_ONLY),
        ("audit_entry_no_truncate", "TRUNCATE", "audit_entry", "STATEMENT", APPEND_ONLY),
        ("consent_entry_no_delete", "DELETE", "consent_entry", "ROW", NO_DELETE),
        ("consent_entry_no_truncate", "TRUNCATE", "consent_entry", "STATEMENT", NO_DELETE),
    ):
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {when} ON {table} FOR EACH {level} "
            f"EXECUTE FUNCTION telmark_refuse_change('{message}')"
        )
    op.execute(
        "CREATE TRIGGER consent_entry_revoke_only BEFORE UPDATE ON consent_entry FOR EACH ROW "
        f"WHEN ({_consent_changed('IS DISTINCT FROM')}) "
        f"EXECUTE FUNCTION telmark_refuse_change('{REVOKE_ONLY}')"
    )


def drop_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table in (
        ("audit_entry_no_update", "audit_entry"),
        ("audit_entry_no_delete", "audit_entry"),
        ("audit_entry_append_only", "audit_entry"),
        ("audit_entry_no_truncate", "audit_entry"),
        ("consent_entry_no_delete", "consent_entry"),
        ("consent_entry_no_truncate", "consent_entry"),
        ("consent_entry_revoke_only", "consent_entry"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else f" ON {table}"))
    if not sqlite:
        op.execute("DROP FUNCTION IF EXISTS telmark_refuse_change()")
