"""Auth test data: an org tree with two cities, users per role, a clock tests can move."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request

from telmark.auth import deps, service
from telmark.auth.domain import Principal
from telmark.auth.permissions import Role, permissions_of
from telmark.auth.schemas import UserRead
from telmark.config import Settings
from telmark.org import service as org_service
from telmark.org.domain import OrgKind, UnitSpec
from telmark.uow import UnitOfWork
from telmark.web.deps import UowDep
from tests.integration.test_org_service import STAFF, UNITS

AUTH_UNITS = [
    *UNITS,
    UnitSpec("C01K01", "C01", OrgKind.KEY_ACCOUNT_CENTRE, "南京政企客户中心"),
]
PASSWORD = "correct-horse-42"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock that stands still until a test moves it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def seed_org(uow: UnitOfWork) -> None:
    org_service.sync_tree(uow=uow, units=AUTH_UNITS, staff=STAFF)


def make_user(
    uow: UnitOfWork,
    username: str,
    *,
    org: str = "P00",
    roles: Iterable[Role] = (Role.PROVINCE_ADMIN,),
    password: str = PASSWORD,
    display_name: str | None = None,
) -> UserRead:
    return service.create_user(
        uow=uow,
        username=username,
        display_name=display_name or username.title(),
        org_code=org,
        roles=list(roles),
        password=password,
    )


def principal_at(
    org_code: str,
    org_path: str,
    *,
    roles: Iterable[Role] = tuple(Role),
    user_id: int = 1,
    org_name: str = "",
) -> Principal:
    """A signed-in user at ``org_code`` holding ``roles`` (default: every role)."""
    held = frozenset(roles)
    return Principal(
        user_id=user_id,
        username=f"tester.{org_code.lower()}",
        display_name="Tester",
        roles=held,
        org_code=org_code,
        org_path=org_path,
        permissions=permissions_of(held),
        org_name=org_name,
    )


def sign_in_as(app: FastAPI, principal: Principal) -> None:
    """Make every request to ``app`` authenticated as ``principal`` (tests of other domains).

    Replaces only the credential check: the actor, org scope, permission checks and
    template context work as for a real login.
    """

    def authenticated(request: Request, uow: UowDep) -> deps.Authenticated:
        uow.actor = principal.actor("testclient", "pytest", "web")
        request.state.principal = principal
        request.state.csrf_token = None
        return deps.Authenticated(principal=principal, channel="web", csrf_token=None)

    app.dependency_overrides[deps._authenticate] = authenticated


def province_app(settings: Settings) -> FastAPI:
    """The web app with every request signed in as a province-level user holding every role."""
    from telmark.web.app import create_app

    app = create_app(settings)
    root = "P"  # the province code of tests._factories.warehouse
    sign_in_as(app, principal_at(root, f"/{root}/"))
    return app
