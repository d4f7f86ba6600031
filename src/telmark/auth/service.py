"""Auth use cases: user administration, login with backoff, console sessions, API tokens.

User administration is scoped like every other query: through
``telmark.org.scope.visible`` and the unit of work's actor, so an
administrator sees and changes only users of their org unit and below; any
other user "does not exist" (NotFound). The CLI's actor is unrestricted.
Functions that depend on the time take ``now`` so tests can move the clock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.orm import selectinload

from telmark.auth import domain
from telmark.auth.domain import LoginFailed, LoginLocked, Principal, SessionPolicy
from telmark.auth.models import ApiToken, LoginSession, User, UserRole
from telmark.auth.passwords import burn_verification, hash_password, needs_rehash, verify_password
from telmark.auth.permissions import Action, Role, permissions_of
from telmark.auth.schemas import ApiTokenRead, TokenIssued, UserRead
from telmark.config import Settings
from telmark.db import utcnow
from telmark.errors import Conflict, InvalidInput, NotFound
from telmark.org.models import OrgUnit
from telmark.org.scope import get_visible_unit, visible
from telmark.uow import UnitOfWork

TOKEN_PREFIX = "tmk_"
TOKEN_DISPLAY_CHARS = 12
# last_seen_at / last_used_at are written at most this often, so a busy console
# does not turn every read into a database write; far below the idle timeout.
TOUCH_EVERY = timedelta(minutes=1)


def session_policy(settings: Settings) -> SessionPolicy:
    """The session idle timeout and lifetime configured in ``settings``."""
    return SessionPolicy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        max_lifetime=timedelta(hours=settings.session_max_hours),
    )


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


def _read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        org_code=user.org_unit.code,
        org_name=user.org_unit.name,
        roles=sorted(user.role_set),
        active=user.active,
        last_login_at=user.last_login_at,
        locked_until=user.locked_until,
        created_at=user.created_at,
    )


def principal_of(user: User) -> Principal:
    """The Principal (identity, scope, rights) of a stored user."""
    roles = user.role_set
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=roles,
        org_code=user.org_unit.code,
        org_path=user.org_unit.path,
        permissions=permissions_of(roles),
        org_name=user.org_unit.name,
    )


def _users() -> Select[User]:
    return select(User).options(selectinload(User.roles), selectinload(User.org_unit))


def _user(uow: UnitOfWork, user_id: int) -> User:
    """The user ``user_id`` if the actor may see them; NotFound otherwise (also when absent)."""
    user = uow.session.scalar(
        _users()
        .join(OrgUnit, User.org_unit_id == OrgUnit.id)
        .where(User.id == user_id, visible(uow, OrgUnit.path))
    )
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def _user_by_name(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalar(_users().where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"user {username} not found")
    return user


def _org(uow: UnitOfWork, code: str) -> OrgUnit:
    unit = get_visible_unit(uow, code)
    if not unit.active:
        raise NotFound(f"org unit {code} not found")
    return unit


def _is_self(uow: UnitOfWork, user: User) -> bool:
    return uow.actor.user_id == user.id


def _set_roles(user: User, roles: Iterable[Role]) -> None:
    wanted = frozenset(roles)
    if not wanted:
        raise InvalidInput("a user needs at least one role")
    user.roles = [r for r in user.roles if r.role in wanted] + [
        UserRole(role=role) for role in sorted(wanted - user.role_set)
    ]


def _revoke_credentials(uow: UnitOfWork, user_id: int, now: datetime, *, tokens: bool) -> None:
    uow.session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if tokens:
        uow.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )


# --- users ---------------------------------------------------------------------------------


def create_user(
    *,
    uow: UnitOfWork,
    username: str,
    display_name: str,
    org_code: str,
    roles: Iterable[Role],
    password: str,
) -> UserRead:
    """Create an active user in an org unit (within the actor's scope) with roles."""
    name = domain.normalize_username(username)
    domain.check_password(password, username=name)
    if not display_name.strip():
        raise InvalidInput("display name is required")
    unit = _org(uow, org_code)
    if uow.session.scalar(select(User.id).where(User.username == name)) is not None:
        raise Conflict(f"username {name} is taken")
    user = User(
        username=name,
        display_name=display_name.strip(),
        org_unit=unit,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        password_changed_at=utcnow(),
    )
    user.roles = []
    _set_roles(user, roles)
    uow.session.add(user)
    uow.session.flush()
    result = _read(user)
    uow.commit()
    return result


def list_users(*, uow: UnitOfWork, include_inactive: bool = True) -> list[UserRead]:
    """Users of the actor's org unit and below, in org then username order."""
    stmt = _users().join(OrgUnit, User.org_unit_id == OrgUnit.id).where(visible(uow, OrgUnit.path))
    if not include_inactive:
        stmt = stmt.where(User.active)
    stmt = stmt.order_by(OrgUnit.path, User.username)
    return [_read(u) for u in uow.session.scalars(stmt)]


def get_user(*, uow: UnitOfWork, user_id: int) -> UserRead:
    """One user (NotFound when outside the actor's scope)."""
    return _read(_user(uow, user_id))


def user_id_of(*, uow: UnitOfWork, username: str) -> int:
    """The id of the user called ``username`` (for the CLI, which names users)."""
    user = _user_by_name(uow, username)
    return _user(uow, user.id).id


def update_roles(*, uow: UnitOfWork, user_id: int, roles: Iterable[Role]) -> UserRead:
    """Replace a user's roles."""
    user = _user(uow, user_id)
    wanted = frozenset(roles)
    if _is_self(uow, user) and Action.USERS_MANAGE not in permissions_of(wanted):
        raise Conflict("you cannot remove your own right to manage users")
    _set_roles(user, wanted)
    uow.session.flush()
    result = _read(user)
    uow.commit()
    return result


def disable_user(*, uow: UnitOfWork, user_id: int, now: datetime | None = None) -> UserRead:
    """Disable a user and end every session and API token they hold, effective immediately."""
    user = _user(uow, user_id)
    if _is_self(uow, user):
        raise Conflict("you cannot disable your own account")
    user.active = False
    _revoke_credentials(uow, user.id, _now(now), tokens=True)
    result = _read(user)
    uow.commit()
    return result


def enable_user(*, uow: UnitOfWork, user_id: int) -> UserRead:
    """Enable a disabled user (their old sessions and tokens stay revoked)."""
    user = _user(uow, user_id)
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    result = _read(user)
    uow.commit()
    return result


def reset_password(
    *,
    uow: UnitOfWork,
    user_id: int,
    password: str,
    now: datetime | None = None,
) -> UserRead:
    """Set a new password for a user, clear their lockout and end their console sessions."""
    user = _user(uow, user_id)
    domain.check_password(password, username=user.username)
    moment = _now(now)
    user.password_hash = hash_password(password)
    user.password_changed_at = moment
    user.failed_logins = 0
    user.last_failed_at = None
    user.locked_until = None
    _revoke_credentials(uow, user.id, moment, tokens=False)
    result = _read(user)
    uow.commit()
    return result


def change_own_password(
    *,
    uow: UnitOfWork,
    user_id: int,
    current_password: str,
    new_password: str,
    keep_session: str | None = None,
    now: datetime | None = None,
) -> None:
    """Change one's own password (the current one is required) and end one's other sessions."""
    user = _user(uow, user_id)
    if not verify_password(user.password_hash, current_password):
        raise InvalidInput("the current password is wrong", details=[{"field": "current_password"}])
    domain.check_password(new_password, username=user.username)
    if new_password == current_password:
        raise InvalidInput("the new password must differ from the current one")
    moment = _now(now)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = moment
    # Row by row rather than one UPDATE ... WHERE id != <hash>: a bulk statement is
    # audited with its parameters, and the kept session's hash has no place there.
    kept = _sha256(keep_session) if keep_session is not None else None
    others = uow.session.scalars(
        select(LoginSession).where(
            LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)
        )
    )
    for row in others:
        if row.id != kept:
            row.revoked_at = moment
    uow.commit()


# --- login ---------------------------------------------------------------------------------


def authenticate(
    *, uow: UnitOfWork, username: str, password: str, now: datetime | None = None
) -> Principal:
    """Check a username and password, applying the backoff rule; records the outcome.

    Unknown and disabled users cost one hash verification like everyone else
    and get the same LoginFailed, so neither timing nor message tells an
    attacker which usernames exist. A locked account is refused without
    checking the password, so guesses during the lock teach nothing.

    On success the unit of work's actor becomes the user (keeping its ip,
    user agent and channel), so the login and what follows it in this unit of
    work are attributed to them; failures stay with the anonymous actor.
    """
    moment = _now(now)
    user = uow.session.scalar(_users().where(User.username == username.strip().lower()))
    if user is None:
        burn_verification(password)
        raise LoginFailed("wrong username or password")
    wait = domain.login_wait(user.failed_logins, user.last_failed_at, moment)
    if wait:
        raise LoginLocked(wait)
    if not verify_password(user.password_hash, password) or not user.active:
        user.failed_logins += 1
        user.last_failed_at = moment
        user.locked_until = domain.locked_until(user.failed_logins, moment)
        uow.commit()
        raise LoginFailed("wrong username or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.last_failed_at = None
    user.locked_until = None
    user.last_login_at = moment
    principal = principal_of(user)
    uow.actor = principal.actor(uow.actor.ip, uow.actor.user_agent, uow.actor.channel)
    uow.commit()
    return principal


# --- console sessions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSession:
    cookie_value: str  # goes into the cookie; only its hash is stored
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ActiveSession:
    principal: Principal
    csrf_token: str


def start_session(
    *,
    uow: UnitOfWork,
    user_id: int,
    policy: SessionPolicy,
    ip: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Open a console session for a user who has just authenticated."""
    moment = _now(now)
    cookie_value = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    row = LoginSession(
        id=_sha256(cookie_value),
        user_id=user_id,
        csrf_token=csrf_token,
        created_at=moment,
        last_seen_at=moment,
        expires_at=policy.expires_at(moment),
        ip=ip,
        user_agent=(user_agent or "")[:400] or None,
    )
    uow.session.add(row)
    uow.commit()
    return NewSession(cookie_value=cookie_value, csrf_token=csrf_token, expires_at=row.expires_at)


def resolve_session(
    *, uow: UnitOfWork, cookie_value: str, policy: SessionPolicy, now: datetime | None = None
) -> ActiveSession | None:
    """The live session behind a cookie value (touching it), or None if unknown/ended/expired."""
    moment = _now(now)
    row = uow.session.get(LoginSession, _sha256(cookie_value))
    if row is None or row.revoked_at is not None:
        return None
    if policy.is_expired(created_at=row.created_at, last_seen_at=row.last_seen_at, now=moment):
        row.revoked_at = moment
        uow.commit()
        return None
    user = uow.session.scalar(_users().where(User.id == row.user_id))
    if user is None or not user.active:
        return None
    result = ActiveSession(principal=principal_of(user), csrf_token=row.csrf_token)
    if moment - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = moment
        uow.commit()
    return result


def end_session(*, uow: UnitOfWork, cookie_value: str, now: datetime | None = None) -> None:
    """Log out: the session's cookie stops working even if someone kept a copy."""
    row = uow.session.get(LoginSession, _sha256(cookie_value))
    if row is not None and row.revoked_at is None:
        row.revoked_at = _now(now)
        uow.commit()


# --- API tokens ----------------------------------------------------------------------------


def _token_read(token: ApiToken) -> ApiTokenRead:
    return ApiTokenRead.model_validate(token, from_attributes=True)


def issue_token(
    *,
    uow: UnitOfWork,
    user_id: int,
    name: str,
    expires_in: timedelta | None = None,
    now: datetime | None = None,
) -> TokenIssued:
    """Issue an API token for a user; the raw token is in the result and nowhere else."""
    user = _user(uow, user_id)
    if not user.active:
        raise Conflict(f"user {user.username} is disabled")
    if not name.strip():
        raise InvalidInput("a token needs a name")
    moment = _now(now)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip()[:80],
        prefix=raw[:TOKEN_DISPLAY_CHARS],
        token_hash=_sha256(raw),
        created_at=moment,
        expires_at=moment + expires_in if expires_in is not None else None,
    )
    uow.session.add(token)
    uow.session.flush()
    issued = TokenIssued(**_token_read(token).model_dump(), token=raw)
    uow.commit()
    return issued


def list_tokens(*, uow: UnitOfWork, user_id: int) -> list[ApiTokenRead]:
    """A user's API tokens, newest first (revoked ones included, marked)."""
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return [_token_read(t) for t in uow.session.scalars(stmt)]


def revoke_token(
    *,
    uow: UnitOfWork,
    token_id: int,
    owner_id: int | None = None,
    now: datetime | None = None,
) -> ApiTokenRead:
    """Revoke a token; with ``owner_id``, only that user's token (others are NotFound)."""
    token = uow.session.get(ApiToken, token_id)
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = _now(now)
    result = _token_read(token)
    uow.commit()
    return result


def resolve_token(*, uow: UnitOfWork, token: str, now: datetime | None = None) -> Principal | None:
    """The principal behind a bearer token, or None if unknown, revoked, expired or disabled."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    moment = _now(now)
    row = uow.session.scalar(select(ApiToken).where(ApiToken.token_hash == _sha256(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and moment >= row.expires_at:
        return None
    user = uow.session.scalar(_users().where(User.id == row.user_id))
    if user is None or not user.active:
        return None
    principal = principal_of(user)
    if row.last_used_at is None or moment - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = moment
        uow.commit()
    return principal
