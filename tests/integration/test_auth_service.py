"""Auth services on SQLite and PostgreSQL: users, scope, login backoff, sessions, tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.auth import service
from telmark.auth.domain import LoginFailed, LoginLocked, Principal, SessionPolicy
from telmark.auth.models import ApiToken, LoginSession, User
from telmark.auth.passwords import hash_password
from telmark.auth.permissions import Action, Role
from telmark.errors import Conflict, InvalidInput, NotFound
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, START, make_user, seed_org

POLICY = SessionPolicy(idle=timedelta(minutes=30), max_lifetime=timedelta(hours=12))


@pytest.fixture
def org(uow: UnitOfWork) -> UnitOfWork:
    seed_org(uow)
    return uow


def _act_as(uow: UnitOfWork, principal: Principal) -> None:
    """What authentication does for a request: the unit of work acts as (and sees as) them."""
    uow.actor = principal.actor("10.1.2.3", "pytest", "web")


def _login(uow: UnitOfWork, username: str, minutes: float = 0) -> Principal:
    return service.authenticate(
        uow=uow, username=username, password=PASSWORD, now=START + timedelta(minutes=minutes)
    )


def test_create_user_hashes_the_password_and_rejects_bad_input(org: UnitOfWork) -> None:
    user = make_user(org, "Li.Na", org="C01", roles=[Role.ANALYST, Role.APPROVER])
    assert (user.username, user.org_code, user.org_name) == ("li.na", "C01", "南京分公司")
    assert user.roles == [Role.ANALYST, Role.APPROVER]
    stored = org.session.scalar(select(User).where(User.username == "li.na"))
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    with pytest.raises(Conflict):
        make_user(org, "li.na")
    with pytest.raises(InvalidInput):
        make_user(org, "short.pw", password="abc")
    with pytest.raises(NotFound):
        make_user(org, "nowhere", org="C99")
    with pytest.raises(InvalidInput):
        make_user(org, "no.roles", roles=[])


def test_lists_and_lookups_are_scoped_to_the_org_subtree(org: UnitOfWork) -> None:
    make_user(org, "admin")
    city1 = make_user(org, "city1", org="C01", roles=[Role.CITY_MARKETING_MANAGER])
    make_user(org, "hall1", org="C01D01O001", roles=[Role.OUTLET_MANAGER])
    city2 = make_user(org, "city2", org="C02", roles=[Role.CITY_MARKETING_MANAGER])
    everyone = {"admin", "city1", "hall1", "city2"}
    assert {u.username for u in service.list_users(uow=org)} == everyone  # server rights
    _act_as(org, _login(org, "admin"))
    assert {u.username for u in service.list_users(uow=org)} == everyone
    _act_as(org, _login(org, "city1"))
    assert [u.username for u in service.list_users(uow=org)] == ["city1", "hall1"]
    assert service.get_user(uow=org, user_id=city1.id).username == "city1"
    for out_of_scope in (
        lambda: service.get_user(uow=org, user_id=city2.id),
        lambda: service.disable_user(uow=org, user_id=city2.id),
        lambda: service.update_roles(uow=org, user_id=city2.id, roles=[Role.ANALYST]),
        lambda: service.reset_password(uow=org, user_id=city2.id, password="some-new-pass-1"),
        lambda: service.issue_token(uow=org, user_id=city2.id, name="x"),
        # a city admin cannot place users in another city
        lambda: make_user(org, "intruder", org="C02", roles=[Role.ANALYST]),
    ):
        with pytest.raises(NotFound):
            out_of_scope()


def test_disabling_revokes_sessions_and_tokens_and_blocks_login(org: UnitOfWork) -> None:
    make_user(org, "admin")
    user = make_user(org, "analyst", roles=[Role.ANALYST])
    principal = _login(org, "analyst")
    session = service.start_session(uow=org, user_id=principal.user_id, policy=POLICY, now=START)
    token = service.issue_token(uow=org, user_id=user.id, name="script", now=START)
    assert service.resolve_token(uow=org, token=token.token, now=START) is not None
    as_admin = _login(org, "admin")
    _act_as(org, as_admin)
    disabled = service.disable_user(uow=org, user_id=user.id, now=START)
    assert not disabled.active
    assert (
        service.resolve_session(
            uow=org, cookie_value=session.cookie_value, policy=POLICY, now=START
        )
        is None
    )
    assert service.resolve_token(uow=org, token=token.token, now=START) is None
    assert all(s.revoked_at is not None for s in org.session.scalars(select(LoginSession)))
    assert all(t.revoked_at is not None for t in org.session.scalars(select(ApiToken)))
    with pytest.raises(LoginFailed):
        _login(org, "analyst")
    with pytest.raises(Conflict):
        service.disable_user(uow=org, user_id=as_admin.user_id)
    enabled = service.enable_user(uow=org, user_id=user.id)
    assert enabled.active
    assert _login(org, "analyst", minutes=1).username == "analyst"
    # Old credentials stay dead after re-enabling.
    assert service.resolve_token(uow=org, token=token.token, now=START) is None


def test_roles_update_and_admin_cannot_lock_themselves_out(org: UnitOfWork) -> None:
    admin = make_user(org, "admin")
    other = make_user(org, "planner", roles=[Role.MARKETING_PLANNER])
    _act_as(org, _login(org, "admin"))
    updated = service.update_roles(uow=org, user_id=other.id, roles=[Role.ANALYST, Role.APPROVER])
    assert updated.roles == [Role.ANALYST, Role.APPROVER]
    assert service.get_user(uow=org, user_id=other.id).roles == [Role.ANALYST, Role.APPROVER]
    with pytest.raises(Conflict):
        service.update_roles(uow=org, user_id=admin.id, roles=[Role.AUDITOR])
    assert _login(org, "planner").can(Action.OVERVIEW_READ)


def test_reset_password_clears_lockout_and_ends_sessions(org: UnitOfWork) -> None:
    user = make_user(org, "agent", org="C01D01O001", roles=[Role.SERVICE_AGENT])
    session = service.start_session(uow=org, user_id=user.id, policy=POLICY, now=START)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            service.authenticate(uow=org, username="agent", password="wrong-guess-1", now=START)
    with pytest.raises(LoginLocked):
        _login(org, "agent")
    service.reset_password(uow=org, user_id=user.id, password="brand-new-pass-9", now=START)
    assert (
        service.resolve_session(
            uow=org, cookie_value=session.cookie_value, policy=POLICY, now=START
        )
        is None
    )
    principal = service.authenticate(
        uow=org, username="agent", password="brand-new-pass-9", now=START
    )
    assert principal.username == "agent"
    with pytest.raises(InvalidInput):
        service.reset_password(uow=org, user_id=user.id, password="agent-agent-agent")


def test_change_own_password_keeps_the_current_session_only(org: UnitOfWork) -> None:
    user = make_user(org, "analyst", roles=[Role.ANALYST])
    here = service.start_session(uow=org, user_id=user.id, policy=POLICY, now=START)
    elsewhere = service.start_session(uow=org, user_id=user.id, policy=POLICY, now=START)
    with pytest.raises(InvalidInput):
        service.change_own_password(
            uow=org, user_id=user.id, current_password="wrong", new_password="another-pass-77"
        )
    service.change_own_password(
        uow=org,
        user_id=user.id,
        current_password=PASSWORD,
        new_password="another-pass-77",
        keep_session=here.cookie_value,
        now=START,
    )
    alive = service.resolve_session(
        uow=org, cookie_value=here.cookie_value, policy=POLICY, now=START
    )
    assert alive is not None
    assert (
        service.resolve_session(
            uow=org, cookie_value=elsewhere.cookie_value, policy=POLICY, now=START
        )
        is None
    )
    with pytest.raises(LoginFailed):
        _login(org, "analyst")


def test_login_backoff_with_a_fake_clock(org: UnitOfWork) -> None:
    make_user(org, "planner", roles=[Role.MARKETING_PLANNER])

    def attempt(minutes: float, password: str = "wrong-guess-1") -> Principal:
        return service.authenticate(
            uow=org, username="planner", password=password, now=START + timedelta(minutes=minutes)
        )

    for _ in range(5):
        with pytest.raises(LoginFailed):
            attempt(0)
    # Five failures: locked for one minute, even with the right password.
    with pytest.raises(LoginLocked) as locked:
        attempt(0.5, PASSWORD)
    assert locked.value.minutes == 1
    with pytest.raises(LoginFailed):
        attempt(1)  # the 6th failure: two minutes
    with pytest.raises(LoginLocked) as locked:
        attempt(2.5, PASSWORD)
    assert locked.value.minutes == 1  # 30 s left, rounded up
    assert attempt(3, PASSWORD).username == "planner"
    stored = org.session.scalar(select(User).where(User.username == "planner"))
    assert stored is not None
    assert (stored.failed_logins, stored.locked_until) == (0, None)
    assert stored.last_login_at == START + timedelta(minutes=3)


def test_unknown_users_and_wrong_passwords_fail_alike(org: UnitOfWork) -> None:
    make_user(org, "analyst", roles=[Role.ANALYST])
    with pytest.raises(LoginFailed) as unknown:
        service.authenticate(uow=org, username="nobody", password=PASSWORD, now=START)
    with pytest.raises(LoginFailed) as wrong:
        service.authenticate(uow=org, username="analyst", password="nope-nope-1", now=START)
    assert unknown.value.message == wrong.value.message


def test_login_rehashes_an_outdated_hash(org: UnitOfWork) -> None:
    make_user(org, "analyst", roles=[Role.ANALYST])
    stored = org.session.scalar(select(User).where(User.username == "analyst"))
    assert stored is not None
    stored.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    org.commit()
    _login(org, "analyst")
    org.session.refresh(stored)
    assert "m=65536,t=3" in stored.password_hash
    assert stored.password_hash != hash_password(PASSWORD)  # salted


def test_session_idle_and_absolute_expiry(org: UnitOfWork) -> None:
    user = make_user(org, "analyst", roles=[Role.ANALYST])
    started = service.start_session(uow=org, user_id=user.id, policy=POLICY, now=START)
    stored = org.session.get(LoginSession, service._sha256(started.cookie_value))
    assert stored is not None
    assert stored.id != started.cookie_value  # only the hash is kept
    assert stored.expires_at == START + timedelta(hours=12)

    def resolve(minutes: float) -> service.ActiveSession | None:
        return service.resolve_session(
            uow=org,
            cookie_value=started.cookie_value,
            policy=POLICY,
            now=START + timedelta(minutes=minutes),
        )

    # Used every 25 minutes the session lives until its 12-hour end, then stops.
    for minutes in range(25, 12 * 60, 25):
        active = resolve(minutes)
        assert active is not None, minutes
        assert active.principal.username == "analyst"
        assert active.csrf_token == started.csrf_token
    assert resolve(12 * 60) is None

    idle = service.start_session(uow=org, user_id=user.id, policy=POLICY, now=START)
    assert (
        service.resolve_session(
            uow=org,
            cookie_value=idle.cookie_value,
            policy=POLICY,
            now=START + timedelta(minutes=30),
        )
        is None
    )
    assert (
        service.resolve_session(uow=org, cookie_value="made-up", policy=POLICY, now=START) is None
    )


def test_end_session_revokes_the_cookie(org: UnitOfWork) -> None:
    user = make_user(org, "analyst", roles=[Role.ANALYST])
    started = service.start_session(uow=org, user_id=user.id, policy=POLICY, now=START)
    service.end_session(uow=org, cookie_value=started.cookie_value, now=START)
    assert (
        service.resolve_session(
            uow=org, cookie_value=started.cookie_value, policy=POLICY, now=START
        )
        is None
    )


def test_tokens_issue_list_use_expire_revoke(org: UnitOfWork) -> None:
    owner = make_user(org, "analyst", roles=[Role.ANALYST])
    other = make_user(org, "planner", roles=[Role.MARKETING_PLANNER])
    issued = service.issue_token(
        uow=org, user_id=owner.id, name="report", expires_in=timedelta(days=30), now=START
    )
    assert issued.token.startswith("tmk_")
    assert issued.prefix == issued.token[:12]
    assert org.session.scalar(select(ApiToken.token_hash)) != issued.token
    principal = service.resolve_token(uow=org, token=issued.token, now=START + timedelta(days=1))
    assert principal is not None
    assert principal.username == "analyst"
    listed = service.list_tokens(uow=org, user_id=owner.id)
    assert [(t.name, t.last_used_at) for t in listed] == [("report", START + timedelta(days=1))]
    assert not hasattr(listed[0], "token")
    assert (
        service.resolve_token(uow=org, token=issued.token, now=START + timedelta(days=30)) is None
    )
    assert service.resolve_token(uow=org, token="tmk_forged", now=START) is None
    with pytest.raises(NotFound):  # someone else's token does not exist for them
        service.revoke_token(uow=org, token_id=issued.id, owner_id=other.id)
    revoked = service.revoke_token(uow=org, token_id=issued.id, owner_id=owner.id, now=START)
    assert revoked.revoked_at == START
    assert service.resolve_token(uow=org, token=issued.token, now=START) is None


def test_audit_trail_never_holds_secrets_and_names_who_logged_in(org: UnitOfWork) -> None:
    user = make_user(org, "analyst", roles=[Role.ANALYST])
    org.actor = Actor(username="anonymous", ip="10.9.8.7", channel="web")
    with pytest.raises(LoginFailed):
        service.authenticate(uow=org, username="analyst", password="wrong-pass-1", now=START)
    principal = service.authenticate(uow=org, username="analyst", password=PASSWORD, now=START)
    assert (org.actor.username, org.actor.ip, org.actor.scope_path) == (
        "analyst",
        "10.9.8.7",
        "/P00/",
    )
    session = service.start_session(uow=org, user_id=principal.user_id, policy=POLICY, now=START)
    token = service.issue_token(uow=org, user_id=user.id, name="t", now=START)
    entries = list(org.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    text = repr([(e.summary, e.before, e.after, e.entity_id) for e in entries])
    stored = org.session.scalar(select(User.password_hash).where(User.id == user.id))
    for secret in (PASSWORD, stored, session.cookie_value, session.csrf_token, token.token):
        assert secret is not None
        assert secret not in text
    assert service._sha256(session.cookie_value) not in text
    user_updates = [
        (e.actor_username, e.ip, e.after)
        for e in entries
        if e.entity_type == "app_user" and e.action == "update"
    ]
    assert user_updates[0][:2] == ("anonymous", "10.9.8.7")  # the failed attempt
    assert user_updates[0][2] is not None
    assert user_updates[0][2]["failed_logins"] == 1
    assert user_updates[-1][:2] == ("analyst", "10.9.8.7")  # the login itself
