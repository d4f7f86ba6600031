"""Password hashing with argon2id (argon2-cffi), the winner of the Password Hashing Competition.

The hasher's parameters are argon2-cffi's RFC 9106 "low memory" profile
(64 MiB, 3 passes): memory-hard enough to make GPU guessing expensive, and
about 50 ms per hash, which bounds what a burst of logins can cost the
server. Hashes carry their own parameters, so raising them later only needs
``needs_rehash`` on the next successful login.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; includes its parameters)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches ``password_hash``."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True if the hash was made with other parameters than the current ones."""
    return _HASHER.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("telmark-no-such-user")


def burn_verification(password: str) -> None:
    """Spend one verification's time for an unknown username, so timing does not reveal it."""
    verify_password(_dummy_hash(), password)
