"""Pure rules of authentication: who is acting, password policy, login backoff, session expiry.

Backoff rather than a permanent lockout: a permanent lock lets anyone who
knows a username lock its owner out, whereas a delay that doubles with each
further failure makes online guessing useless (after 5 free attempts, at
most ~25 guesses a day once capped at an hour) while a legitimate user who
mistypes waits a minute. The rules take ``now`` as an argument so tests move
the clock instead of sleeping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telmark.actor import Actor
from telmark.auth.permissions import Action, Role
from telmark.errors import DomainError, InvalidInput
from telmark.translation import N_

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # bounds the hashing cost of one request
MIN_DISTINCT_CHARACTERS = 4  # rejects aaaaaaaaaa and 1212121212

FREE_FAILURES = 5  # consecutive failures allowed before the first lock
FIRST_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user as seen by routes and services: identity, scope and rights."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    org_code: str
    org_path: str  # materialised path of the user's org unit: their data scope
    permissions: frozenset[Action]
    org_name: str = ""

    def in_scope(self, path: str) -> bool:
        """True if the org unit at ``path`` is the principal's unit or below it."""
        return path.startswith(self.org_path)

    def can(self, action: Action) -> bool:
        """True if any of the user's roles grants ``action``."""
        return action in self.permissions

    def actor(self, ip: str | None, user_agent: str | None, channel: str) -> Actor:
        """The Actor for this principal's requests: attribution, and the org scope of queries."""
        return Actor(
            username=self.username,
            user_id=self.user_id,
            ip=ip,
            user_agent=user_agent,
            channel=channel,
            scope_path=self.org_path,
        )


def normalize_username(username: str) -> str:
    """The stored form of a username (lower case), or InvalidInput if it is not allowed."""
    normalized = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(normalized):
        raise InvalidInput(
            "username must be 3–64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            details=[{"field": "username", "value": username}],
        )
    return normalized


@dataclass(frozen=True, slots=True)
class PasswordProblem:
    """One way a password breaks the policy: an English msgid with %-style parameters."""

    message: str
    params: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.message % self.params


def password_problems(password: str, *, username: str) -> list[PasswordProblem]:
    """Every reason ``password`` is not acceptable for ``username`` (empty if it is fine)."""
    problems: list[PasswordProblem] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            PasswordProblem(
                N_("The password must be at least %(n)s characters long."),
                {"n": MIN_PASSWORD_LENGTH},
            )
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(
            PasswordProblem(
                N_("The password must be at most %(n)s characters long."),
                {"n": MAX_PASSWORD_LENGTH},
            )
        )
    if password.strip() != password:
        problems.append(PasswordProblem(N_("The password must not start or end with a space.")))
    if username and username.casefold() in password.casefold():
        problems.append(PasswordProblem(N_("The password must not contain the username.")))
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        problems.append(
            PasswordProblem(
                N_("The password must use at least %(n)s different characters."),
                {"n": MIN_DISTINCT_CHARACTERS},
            )
        )
    return problems


def check_password(password: str, *, username: str) -> None:
    """Raise InvalidInput listing every problem if ``password`` breaks the policy."""
    problems = password_problems(password, username=username)
    if problems:
        raise InvalidInput(
            "password rejected: " + " ".join(p.text for p in problems),
            details=[{"field": "password", "reason": p.text} for p in problems],
        )


def lock_duration(failures: int) -> timedelta:
    """How long the account is locked after ``failures`` consecutive failed logins."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    # Doubling is capped by exponent first so huge failure counts cannot overflow.
    exponent = min(failures - FREE_FAILURES, 16)
    return min(FIRST_LOCK * (1 << exponent), MAX_LOCK)


def locked_until(failures: int, last_failed_at: datetime | None) -> datetime | None:
    """When the lock caused by ``failures`` ends, or None if there is no lock."""
    duration = lock_duration(failures)
    if last_failed_at is None or not duration:
        return None
    return last_failed_at + duration


def login_wait(failures: int, last_failed_at: datetime | None, now: datetime) -> timedelta:
    """Time left before another login attempt is allowed (zero when allowed now)."""
    until = locked_until(failures, last_failed_at)
    if until is None or until <= now:
        return timedelta(0)
    return until - now


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Idle timeout and absolute lifetime of a console session."""

    idle: timedelta
    max_lifetime: timedelta

    def expires_at(self, created_at: datetime) -> datetime:
        """The absolute end of a session started at ``created_at``."""
        return created_at + self.max_lifetime

    def is_expired(self, *, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        """True once the session has been idle too long or has lived its full lifetime."""
        return now >= last_seen_at + self.idle or now >= self.expires_at(created_at)


class LoginFailed(DomainError):
    """Wrong username or password; deliberately the same for both (no username oracle)."""

    status_code = 401
    code = "login_failed"


class LoginLocked(DomainError):
    """Too many failed logins in a row: wait before the next attempt."""

    status_code = 429
    code = "login_locked"

    def __init__(self, wait: timedelta) -> None:
        self.wait = wait
        minutes = max(1, -(-int(wait.total_seconds()) // 60))  # round up: never say "0 minutes"
        self.minutes = minutes
        super().__init__(
            f"too many failed logins; try again in {minutes} minute(s)",
            details=[{"retry_after_seconds": int(wait.total_seconds()) + 1}],
        )
