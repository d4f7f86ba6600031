"""Every change through a unit of work lands in the audit trail, in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.domain import REDACTED
from telmark.audit.models import AuditEntry
from telmark.audit.service import record_read
from telmark.auth.models import ApiToken, LoginSession, User, UserRole
from telmark.auth.permissions import Role
from telmark.org import service as org_service
from telmark.org.models import OrgUnit, Staff
from telmark.uow import UnitOfWork
from tests.integration.test_org_service import STAFF, UNITS

ALICE = Actor(username="alice", user_id=41, ip="10.0.0.7", user_agent="pytest", channel="web")


@pytest.fixture
def tree(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db) as uow:
        org_service.sync_tree(uow=uow, units=UNITS, staff=STAFF)


def entries(db: sessionmaker[Session], **where: object) -> list[AuditEntry]:
    with UnitOfWork(db) as uow:
        stmt = select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)
        found = list(uow.session.scalars(stmt))
        uow.session.expunge_all()  # keep them loaded after the unit of work rolls back
        return found


@pytest.mark.usefixtures("tree")
def test_create_update_delete_are_recorded_with_actor_and_values(
    db: sessionmaker[Session],
) -> None:
    with UnitOfWork(db, actor=ALICE) as uow:
        district = uow.session.scalar(select(OrgUnit).where(OrgUnit.code == "C02D01"))
        assert district is not None
        grid = OrgUnit(
            code="C02D01G009", kind="grid", name="测试网格", parent=district,
            path=district.path + "C02D01G009/", depth=3,
        )  # fmt: skip
        uow.session.add(grid)
        uow.commit()
        grid.name = "崇安网格"
        grid.active = False
        uow.commit()
        uow.session.delete(grid)
        uow.commit()
        grid_id = str(grid.id)

    created, updated, deleted = entries(db, entity_type="org_unit", entity_id=grid_id)
    for entry in (created, updated, deleted):
        assert (entry.actor_username, entry.actor_user_id, entry.channel) == ("alice", 41, "web")
        assert (entry.ip, entry.user_agent) == ("10.0.0.7", "pytest")
        assert entry.at.tzinfo is not None
    assert created.action == "create"
    assert created.before is None
    assert created.after is not None
    assert created.after["name"] == "测试网格"
    assert created.after["parent_id"] == district.id
    assert created.summary == f"create org_unit #{grid_id} C02D01G009"
    # An update holds only what changed (updated_at is bookkeeping, left out).
    assert updated.action == "update"
    assert updated.before == {"name": "测试网格", "active": True}
    assert updated.after == {"name": "崇安网格", "active": False}
    assert deleted.action == "delete"
    assert deleted.after is None
    assert deleted.before is not None
    assert deleted.before["code"] == "C02D01G009"
    assert deleted.before["name"] == "崇安网格"


@pytest.mark.usefixtures("tree")
def test_org_sync_is_attributed_to_the_actor_set_after_entering(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db) as uow:
        uow.actor = ALICE  # what authentication does, after the unit of work began
        moved = [u for u in UNITS if u.code != "C01D01G001"]
        org_service.sync_tree(uow=uow, units=moved, staff=STAFF[:3])
    changes = entries(db, actor_username="alice")
    assert {(e.action, e.entity_type, e.summary.split()[-1]) for e in changes} == {
        ("update", "org_unit", "C01D01G001"),
        ("update", "staff", "E004"),
    }
    assert {tuple(e.after or {}) for e in changes} == {("active",)}


@pytest.mark.usefixtures("tree")
def test_secrets_are_redacted(db: sessionmaker[Session]) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with UnitOfWork(db, actor=ALICE) as uow:
        unit = uow.session.scalar(select(OrgUnit).where(OrgUnit.code == "C01"))
        user = User(
            username="zhang.wei", display_name="张伟", org_unit=unit,
            password_hash="$argon2id$v=19$secret", active=True, failed_logins=0,
        )  # fmt: skip
        user.roles = [UserRole(role=Role.AUDITOR)]
        uow.session.add(user)
        uow.session.flush()
        uow.session.add_all(
            [
                LoginSession(
                    id="a" * 64, user_id=user.id, csrf_token="csrf-value", created_at=now,
                    last_seen_at=now, expires_at=now,
                ),
                ApiToken(user_id=user.id, name="cron", prefix="tmk_abc", token_hash="b" * 64),
            ]
        )  # fmt: skip
        uow.commit()
        user.password_hash = "$argon2id$v=19$other"
        uow.commit()

    written = entries(db, actor_username="alice")
    dumped = repr([(e.entity_id, e.summary, e.before, e.after) for e in written])
    # The session's primary key is the hash of its cookie: redacted even as the entity id.
    for secret in ("$argon2id", "csrf-value", "a" * 64, "b" * 64):
        assert secret not in dumped
    (created,) = [e for e in written if e.entity_type == "app_user" and e.action == "create"]
    assert created.after is not None
    assert created.after["password_hash"] == REDACTED
    (changed,) = [e for e in written if e.entity_type == "app_user" and e.action == "update"]
    # The entry still shows that the password changed, without either value.
    assert (changed.before, changed.after) == ({"password_hash": REDACTED},) * 2
    token = next(e for e in written if e.entity_type == "api_token")
    assert token.after is not None
    assert token.after["prefix"] == "tmk_abc"
    assert token.after["token_hash"] == REDACTED
    assert {e.entity_type for e in written} >= {"user_role", "login_session"}


@pytest.mark.usefixtures("tree")
def test_cascaded_deletes_and_bulk_statements_are_recorded(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=ALICE) as uow:
        unit = uow.session.scalar(select(OrgUnit).where(OrgUnit.code == "C01"))
        user = User(
            username="li.qiang", display_name="李强", org_unit=unit, password_hash="x",
            active=True, failed_logins=0,
        )  # fmt: skip
        user.roles = [UserRole(role=Role.AUDITOR), UserRole(role=Role.ANALYST)]
        uow.session.add(user)
        uow.commit()
        user.roles = [r for r in user.roles if r.role is Role.ANALYST]  # orphan deleted
        uow.commit()
        uow.session.execute(update(Staff).where(Staff.level == 3).values(active=False))
        uow.session.execute(update(Staff).where(Staff.level == 99).values(active=False))
        uow.commit()

    (orphan,) = entries(db, entity_type="user_role", action="delete")
    assert orphan.before is not None
    assert orphan.before["role"] == "auditor"
    (bulk,) = entries(db, entity_type="staff", action="update")  # the no-op statement is not
    assert bulk.summary == "bulk update staff"
    assert bulk.after is not None
    assert bulk.after["rows"] == 2
    assert "UPDATE staff SET active" in bulk.after["statement"]
    assert 3 in bulk.after["values"].values()


@pytest.mark.usefixtures("tree")
def test_rolled_back_changes_leave_no_entry(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=ALICE) as uow:
        staff = uow.session.scalar(select(Staff).where(Staff.code == "E001"))
        assert staff is not None
        staff.grade = 9
        uow.session.flush()  # the entry exists inside the transaction ...
        assert uow.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "staff"))
        uow.rollback()  # ... and goes with it
    with pytest.raises(RuntimeError, match="halfway"):
        _fail_halfway(db)
    assert entries(db, actor_username="alice") == []


def _fail_halfway(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=ALICE) as uow:
        unit = uow.session.scalars(select(OrgUnit)).first()
        uow.session.add(
            Staff(code="E999", name="赵六", org_unit=unit, level=3, grade=1, position="sales_rep",
                  hired_date=date(2024, 1, 1))
        )  # fmt: skip
        uow.session.flush()
        raise RuntimeError("failure halfway")  # leaving without commit rolls back


def test_record_read_lands_with_the_callers_commit(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=ALICE) as uow:
        record_read(uow=uow, what="looked", entity_type="subscribers", details={"n": 1})
        uow.rollback()
        record_read(uow=uow, what="looked again", entity_type="subscribers", entity_id="7")
        uow.commit()
    (entry,) = entries(db, actor_username="alice")
    assert (entry.action, entry.summary, entry.entity_id) == ("read", "looked again", "7")


@pytest.fixture
def one_entry(db: sessionmaker[Session]) -> Iterator[UnitOfWork]:
    with UnitOfWork(db, actor=ALICE) as uow:
        record_read(uow=uow, what="looked", entity_type="subscribers")
        uow.commit()
        yield uow


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET summary = 'nothing happened'",
        "UPDATE audit_entry SET actor_username = 'someone else'",
        "DELETE FROM audit_entry",
    ],
)
def test_database_refuses_to_change_or_delete_entries(
    one_entry: UnitOfWork, statement: str
) -> None:
    session = one_entry.session
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement))
    assert session.scalar(text("SELECT summary FROM audit_entry")) == "looked"


def test_orm_cannot_change_entries_either(one_entry: UnitOfWork) -> None:
    session = one_entry.session
    entry = session.scalars(select(AuditEntry)).one()
    with session.begin_nested() as savepoint:
        entry.summary = "rewritten"
        with pytest.raises(DBAPIError, match="append-only"):
            session.flush()
        savepoint.rollback()
