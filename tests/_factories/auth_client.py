"""An app client with a seeded org tree and users, a movable clock and login helpers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth import passwords
from telmark.auth.deps import get_clock
from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.uow import UnitOfWork, uow_dependency
from telmark.web.app import create_app
from tests._factories.auth import PASSWORD, FakeClock, make_user, seed_org
from tests._factories.warehouse import build_tiny_warehouse

# HTTP tests exercise sessions, not the KDF (its parameters are tested in unit and
# integration tests): a cheap argon2id keeps each login a millisecond, not ~0.2 s.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')

# username → (org unit, role)
USERS = {
    "admin": ("P00", Role.PROVINCE_ADMIN),
    "analyst": ("P00", Role.ANALYST),
    "auditor": ("P00", Role.AUDITOR),
    "city1": ("C01", Role.CITY_MARKETING_MANAGER),
    "city2": ("C02", Role.CITY_MARKETING_MANAGER),
    "agent": ("C01D01O001", Role.SERVICE_AGENT),
}


@dataclass
class AuthApp:
    client: TestClient
    clock: FakeClock
    ids: dict[str, int]

    def login(self, username: str, password: str = PASSWORD, *, next_path: str = "/") -> str:
        """Log in through the console form; returns the session's CSRF token."""
        page = self.client.get("/login", params={"next": next_path})
        match = LOGIN_CSRF.search(page.text)
        assert match is not None
        response = self.client.post(
            "/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": match.group(1),
                "next": next_path,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return self.csrf()

    def csrf(self) -> str:
        """The CSRF token the console hands the signed-in user (from the page's meta tag)."""
        page = self.client.get("/account/password")
        match = META_CSRF.search(page.text)
        assert match is not None, page.text[:500]
        return match.group(1)


def auth_app(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[AuthApp]:
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        yield from _auth_app(tmp_path, db)


def _auth_app(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[AuthApp]:
    ids: dict[str, int] = {}
    with UnitOfWork(db) as uow:
        seed_org(uow)
        for username, (org, role) in USERS.items():
            ids[username] = make_user(uow, username, org=org, roles=[role]).id
    settings = Settings(data_dir=tmp_path, warehouse_url=build_tiny_warehouse(tmp_path).url)
    clock = FakeClock()

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as uow:
            yield uow

    app = create_app(settings)
    app.dependency_overrides[uow_dependency] = test_uow
    app.dependency_overrides[get_clock] = lambda: clock
    with TestClient(app) as client:
        yield AuthApp(client=client, clock=clock, ids=ids)
