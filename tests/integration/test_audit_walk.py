"""Walk every service that changes data and check each change is in the audit trail.

Each step runs one use case in its own unit of work and must add audit
entries, all attributed to the unit of work's actor, including the kinds of
change listed for it. ``test_every_service_function_is_walked_or_read_only``
keeps the walk complete: a new public function in a walked service module
fails it until it is added here as a step or declared read-only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.auth import passwords
from telmark.auth import service as auth
from telmark.auth.domain import LoginFailed, SessionPolicy
from telmark.auth.permissions import Role
from telmark.consent import service as consent
from telmark.consent.domain import Channel, ConsentKind
from telmark.consent.schemas import ConsentEntryCreate
from telmark.db import utcnow
from telmark.org import service as org
from telmark.org.domain import UnitSpec
from telmark.uow import UnitOfWork
from tests._factories.auth import AUTH_UNITS, PASSWORD
from tests._factories.auth_client import FAST_HASHER
from tests.integration.test_org_service import STAFF

WALKER = Actor(username="walker", user_id=901, ip="10.1.2.3", user_agent="walk", channel="api")
POLICY = SessionPolicy(idle=timedelta(minutes=30), max_lifetime=timedelta(hours=12))
NEW_PASSWORD = "another-horse-77"
IMPORT = b"msisdn,kind,channel\n13700000001,dnd,all\n13700000002,opt_out,email\n"

Context = dict[str, Any]


@dataclass(frozen=True)
class Step:
    name: str  # the service function this step exercises
    run: Callable[[UnitOfWork, Context], object]
    expected: frozenset[tuple[str, str]]  # (action, entity_type) that must appear
    actor: str = WALKER.username


def _sync_again(uow: UnitOfWork, _ctx: Context) -> None:
    renamed = [
        UnitSpec(u.code, u.parent_code, u.kind, u.name + "（新）", u.name_en)
        if u.code == "C02"
        else u
        for u in AUTH_UNITS
    ]
    org.sync_tree(uow=uow, units=renamed, staff=STAFF[:3])


def _add(uow: UnitOfWork, ctx: Context) -> None:
    entry = ConsentEntryCreate(msisdn="13812345678", kind=ConsentKind.BLACKLIST, channel="all")
    ctx["entry"] = consent.add_entry(uow=uow, entry=entry, unmask=False).id


def _create_user(uow: UnitOfWork, ctx: Context) -> None:
    ctx["user"] = auth.create_user(
        uow=uow, username="walk.er", display_name="走查", org_code="C01",
        roles=[Role.ANALYST], password=PASSWORD,
    ).id  # fmt: skip


def _login(uow: UnitOfWork, _ctx: Context) -> None:
    with pytest.raises(LoginFailed):
        auth.authenticate(uow=uow, username="walk.er", password="wrong-password-1")


def _start_session(uow: UnitOfWork, ctx: Context) -> None:
    ctx["cookie"] = auth.start_session(uow=uow, user_id=ctx["user"], policy=POLICY).cookie_value


def _expire_session(uow: UnitOfWork, ctx: Context) -> None:
    cookie = auth.start_session(uow=uow, user_id=ctx["user"], policy=POLICY).cookie_value
    later = utcnow() + timedelta(days=1)
    assert auth.resolve_session(uow=uow, cookie_value=cookie, policy=POLICY, now=later) is None


STEPS = [
    Step(
        "sync_tree",
        lambda uow, _ctx: org.sync_tree(uow=uow, units=AUTH_UNITS, staff=STAFF),
        frozenset({("create", "org_unit"), ("create", "staff")}),
    ),
    Step("sync_tree", _sync_again, frozenset({("update", "org_unit"), ("update", "staff")})),
    Step("add_entry", _add, frozenset({("create", "consent_entry")})),
    Step(
        "revoke_entry",
        lambda uow, ctx: consent.revoke_entry(
            uow=uow, entry_id=ctx["entry"], reason="walk", may_manage=True, unmask=False
        ),
        frozenset({("update", "consent_entry")}),
    ),
    Step(
        "import_file",
        lambda uow, _ctx: consent.import_file(uow=uow, data=IMPORT, file_name="walk.csv"),
        frozenset({("create", "consent_import"), ("create", "consent_entry")}),
    ),
    Step(
        "list_entries",  # a read in clear is recorded too
        lambda uow, _ctx: consent.list_entries(uow=uow, filters=_filters(), unmask=True),
        frozenset({("read", "consent_entry")}),
    ),
    Step(
        "export_csv",
        lambda uow, _ctx: list(consent.export_csv(uow=uow, filters=_filters(), unmask=False)),
        frozenset({("export", "consent_entry")}),
    ),
    Step("create_user", _create_user, frozenset({("create", "app_user"), ("create", "user_role")})),
    Step(
        "update_roles",
        lambda uow, ctx: auth.update_roles(uow=uow, user_id=ctx["user"], roles=[Role.APPROVER]),
        frozenset({("create", "user_role"), ("delete", "user_role")}),
    ),
    Step("authenticate", _login, frozenset({("update", "app_user")})),
    Step(
        "authenticate",
        lambda uow, _ctx: auth.authenticate(uow=uow, username="walk.er", password=PASSWORD),
        frozenset({("update", "app_user")}),
        actor="walk.er",  # a successful login acts as the user from then on
    ),
    Step("start_session", _start_session, frozenset({("create", "login_session")})),
    Step(
        "end_session",
        lambda uow, ctx: auth.end_session(uow=uow, cookie_value=ctx["cookie"]),
        frozenset({("update", "login_session")}),
    ),
    Step("resolve_session", _expire_session, frozenset({("update", "login_session")})),
    Step(
        "issue_token",
        lambda uow, ctx: ctx.update(
            token=auth.issue_token(uow=uow, user_id=ctx["user"], name="walk").id
        ),
        frozenset({("create", "api_token")}),
    ),
    Step(
        "revoke_token",
        lambda uow, ctx: auth.revoke_token(uow=uow, token_id=ctx["token"]),
        frozenset({("update", "api_token")}),
    ),
    Step(
        "change_own_password",
        lambda uow, ctx: auth.change_own_password(
            uow=uow, user_id=ctx["user"], current_password=PASSWORD, new_password=NEW_PASSWORD
        ),
        frozenset({("update", "app_user")}),
    ),
    Step(
        "reset_password",
        lambda uow, ctx: auth.reset_password(uow=uow, user_id=ctx["user"], password=PASSWORD),
        frozenset({("update", "app_user")}),
    ),
    Step(
        "disable_user",
        lambda uow, ctx: auth.disable_user(uow=uow, user_id=ctx["user"]),
        frozenset({("update", "app_user")}),
    ),
    Step(
        "enable_user",
        lambda uow, ctx: auth.enable_user(uow=uow, user_id=ctx["user"]),
        frozenset({("update", "app_user")}),
    ),
]

# Public service functions that change nothing (or only bookkeeping stamps such
# as last_seen_at, which the audit deliberately ignores), or delegate to a walked one.
READ_ONLY = {
    org: {"get_unit", "list_staff", "list_units", "read_warehouse_org"},
    consent: {"blocked_msisdns", "check_contact", "list_imports"},
    auth: {"get_user", "list_tokens", "list_users", "principal_of", "resolve_token",
           "session_policy", "user_id_of"},
}  # fmt: skip
DELEGATING = {org: {"sync_from_warehouse": "sync_tree"}}


def _filters() -> Any:
    from telmark.consent.schemas import ConsentFilters, EntryStatus

    return ConsentFilters(status=EntryStatus.ALL, channel=Channel.EMAIL)


@pytest.fixture
def _fast_hashing() -> Iterator[None]:
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        yield


def _last_id(db: sessionmaker[Session]) -> int:
    with db() as session:
        return session.scalar(select(func.max(AuditEntry.id))) or 0


@pytest.mark.usefixtures("_fast_hashing")
def test_every_change_through_the_services_is_audited(db: sessionmaker[Session]) -> None:
    ctx: Context = {}
    for step in STEPS:
        before = _last_id(db)
        with UnitOfWork(db, actor=WALKER) as uow:
            step.run(uow, ctx)
        with db() as session:
            written = list(session.scalars(select(AuditEntry).where(AuditEntry.id > before)))
        assert written, f"{step.name}: no audit entry"
        kinds = {(e.action, e.entity_type) for e in written}
        assert step.expected <= kinds, f"{step.name}: expected {step.expected}, got {kinds}"
        for entry in written:
            assert entry.actor_username == step.actor, (step.name, entry.summary)
            if step.actor == WALKER.username:
                assert (entry.actor_user_id, entry.channel, entry.ip) == (901, "api", "10.1.2.3")


def _public_functions(module: ModuleType) -> set[str]:
    return {
        name
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__ and not name.startswith("_")
    }


@pytest.mark.parametrize("module", [org, consent, auth], ids=lambda m: m.__name__)
def test_every_service_function_is_walked_or_read_only(module: ModuleType) -> None:
    walked = {s.name for s in STEPS} & _public_functions(module)
    declared = walked | READ_ONLY.get(module, set()) | set(DELEGATING.get(module, {}))
    assert _public_functions(module) == declared, (
        "add a step to STEPS for each new function that changes data, or list it in READ_ONLY"
    )
