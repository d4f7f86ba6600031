"""Pure auth rules: the permission table, password policy, login backoff, session expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.auth import domain
from telmark.auth.domain import Principal, SessionPolicy
from telmark.auth.passwords import hash_password, needs_rehash, verify_password
from telmark.auth.permissions import PERMISSIONS, Action, Role, permissions_of
from telmark.errors import InvalidInput

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
# Hypothesis takes naive bounds; timezones= makes the generated values aware.
moments = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2035, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


# --- permission table ----------------------------------------------------------------------


def test_every_role_has_a_row_and_may_hold_tokens() -> None:
    assert set(PERMISSIONS) == set(Role)
    assert all(Action.TOKENS_OWN in actions for actions in PERMISSIONS.values())


def test_admin_manages_everything_but_does_not_see_personal_data() -> None:
    admin = PERMISSIONS[Role.PROVINCE_ADMIN]
    assert {Action.USERS_MANAGE, Action.ORG_MANAGE, Action.CONSENT_MANAGE} <= admin
    assert Action.UNMASK not in admin


def test_auditor_reads_the_trail_and_changes_nothing() -> None:
    auditor = PERMISSIONS[Role.AUDITOR]
    assert {Action.AUDIT_READ, Action.AUDIT_EXPORT, Action.USERS_READ} <= auditor
    assert not {a for a in auditor if a.value.endswith(":manage") or a is Action.DATA_IMPORT}


def test_only_front_line_roles_unmask_and_only_admin_and_auditor_see_the_trail() -> None:
    unmaskers = {r for r, actions in PERMISSIONS.items() if Action.UNMASK in actions}
    assert unmaskers == {Role.SERVICE_AGENT, Role.OUTLET_MANAGER, Role.ACCOUNT_MANAGER}
    readers = {r for r, actions in PERMISSIONS.items() if Action.AUDIT_READ in actions}
    assert readers == {Role.PROVINCE_ADMIN, Role.AUDITOR}
    managers = {r for r, actions in PERMISSIONS.items() if Action.USERS_MANAGE in actions}
    assert managers == {Role.PROVINCE_ADMIN}


@given(st.sets(st.sampled_from(list(Role))))
def test_permissions_of_several_roles_is_the_union(roles: set[Role]) -> None:
    granted = permissions_of(roles)
    for role in roles:
        assert PERMISSIONS[role] <= granted
    assert all(any(a in PERMISSIONS[r] for r in roles) for a in granted)


def test_principal_can_and_actor() -> None:
    principal = Principal(
        user_id=7,
        username="agent",
        display_name="吴芳",
        roles=frozenset({Role.SERVICE_AGENT}),
        org_code="C01D01O001",
        org_path="/P00/C01/C01D01/C01D01O001/",
        permissions=permissions_of({Role.SERVICE_AGENT}),
    )
    assert principal.can(Action.UNMASK)
    assert not principal.can(Action.USERS_READ)
    assert principal.in_scope("/P00/C01/C01D01/C01D01O001/")
    assert not principal.in_scope("/P00/C01/")
    actor = principal.actor("10.0.0.5", "Firefox", "web")
    assert (actor.username, actor.user_id, actor.ip, actor.user_agent, actor.channel) == (
        "agent",
        7,
        "10.0.0.5",
        "Firefox",
        "web",
    )


# --- usernames and passwords ---------------------------------------------------------------


def test_usernames_are_lower_cased_and_restricted() -> None:
    assert domain.normalize_username("  Zhang.Wei ") == "zhang.wei"
    for bad in ("ab", "-lead", "张伟", "a b c", "x" * 65):
        with pytest.raises(InvalidInput):
            domain.normalize_username(bad)


def test_password_policy_names_every_problem() -> None:
    assert domain.password_problems("correct-horse-42", username="li.na") == []
    texts = [p.text for p in domain.password_problems("li.na1", username="li.na")]
    assert texts == [
        "The password must be at least 10 characters long.",
        "The password must not contain the username.",
    ]
    assert [p.text for p in domain.password_problems("aaaaaaaaaaab", username="x")] == [
        "The password must use at least 4 different characters."
    ]
    assert domain.password_problems(" leading-space-pw", username="x")
    assert domain.password_problems("Q" * 200 + "abcd" * 20, username="x")
    with pytest.raises(InvalidInput) as caught:
        domain.check_password("ADMIN-console-1", username="admin")
    assert caught.value.details == [
        {"field": "password", "reason": "The password must not contain the username."}
    ]


@given(st.text(min_size=10, max_size=60), st.from_regex(r"[a-z0-9]{3,12}", fullmatch=True))
def test_a_password_containing_the_username_is_never_accepted(prefix: str, username: str) -> None:
    assert domain.password_problems(prefix + username, username=username)


def test_argon2_hash_verifies_and_is_current() -> None:
    hashed = hash_password("correct-horse-42")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct-horse-42")
    assert not verify_password(hashed, "correct-horse-43")
    assert not verify_password("not-a-hash", "x")
    assert not needs_rehash(hashed)
    weaker = hashed.replace("m=65536,t=3", "m=8192,t=1")
    assert needs_rehash(weaker)


# --- login backoff -------------------------------------------------------------------------


def test_five_failures_are_free_then_the_lock_doubles_to_an_hour() -> None:
    assert [domain.lock_duration(n) for n in range(5)] == [timedelta(0)] * 5
    assert [domain.lock_duration(n).total_seconds() / 60 for n in range(5, 13)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        60,
        60,
    ]
    assert domain.lock_duration(10_000) == timedelta(hours=1)


def test_login_wait_counts_down_from_the_last_failure() -> None:
    assert domain.login_wait(4, T0, T0) == timedelta(0)
    assert domain.login_wait(5, T0, T0 + timedelta(seconds=20)) == timedelta(seconds=40)
    assert domain.login_wait(5, T0, T0 + timedelta(minutes=1)) == timedelta(0)
    assert domain.login_wait(7, T0, T0 + timedelta(minutes=3)) == timedelta(minutes=1)
    assert domain.login_wait(9, None, T0) == timedelta(0)
    assert domain.locked_until(6, T0) == T0 + timedelta(minutes=2)
    assert domain.locked_until(3, T0) is None


@given(st.integers(min_value=0, max_value=500), moments, st.integers(0, 10_000))
def test_backoff_is_bounded_and_monotone(failures: int, last: datetime, seconds: int) -> None:
    now = last + timedelta(seconds=seconds)
    wait = domain.login_wait(failures, last, now)
    assert timedelta(0) <= wait <= timedelta(hours=1)
    assert domain.lock_duration(failures + 1) >= domain.lock_duration(failures)
    assert domain.login_wait(failures, last, now + timedelta(hours=1)) == timedelta(0)


def test_locked_error_rounds_minutes_up() -> None:
    assert domain.LoginLocked(timedelta(seconds=5)).minutes == 1
    assert domain.LoginLocked(timedelta(seconds=61)).minutes == 2
    assert domain.LoginLocked(timedelta(minutes=32)).minutes == 32


# --- session expiry ------------------------------------------------------------------------

POLICY = SessionPolicy(idle=timedelta(minutes=30), max_lifetime=timedelta(hours=12))


def test_session_ends_when_idle_or_too_old() -> None:
    assert POLICY.expires_at(T0) == T0 + timedelta(hours=12)
    fresh = {"created_at": T0, "last_seen_at": T0 + timedelta(minutes=10)}
    assert not POLICY.is_expired(**fresh, now=T0 + timedelta(minutes=39))
    assert POLICY.is_expired(**fresh, now=T0 + timedelta(minutes=40))
    busy = {"created_at": T0, "last_seen_at": T0 + timedelta(hours=11, minutes=59)}
    assert not POLICY.is_expired(**busy, now=T0 + timedelta(hours=11, minutes=59, seconds=59))
    assert POLICY.is_expired(**busy, now=T0 + timedelta(hours=12))


@given(moments, st.integers(0, 24 * 3600), st.integers(0, 24 * 3600))
def test_session_expiry_matches_both_limits(created: datetime, seen: int, later: int) -> None:
    last_seen = created + timedelta(seconds=seen)
    now = last_seen + timedelta(seconds=later)
    expired = POLICY.is_expired(created_at=created, last_seen_at=last_seen, now=now)
    assert expired == (later >= 30 * 60 or now - created >= timedelta(hours=12))
