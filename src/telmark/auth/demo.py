"""Demo users: one per role, placed in the synced org tree so org scope can be seen.

Two city marketing managers sit in different cities: logging in as each shows
that a city sees only its own units and users. All demo users share one
password, documented in the README; never seed them in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from telmark.auth import service
from telmark.auth.models import User
from telmark.auth.permissions import Role
from telmark.errors import NotFound
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.uow import UnitOfWork

DEMO_PASSWORD = "telmark-demo-2026"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: Role
    org_code: str
    org_name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class _Seat:
    username: str
    display_name: str
    role: Role
    place: str  # province, city1, city2, outlet1, centre1


SEATS = (
    _Seat("admin", "王强", Role.PROVINCE_ADMIN, "province"),
    _Seat("planner", "李娜", Role.MARKETING_PLANNER, "province"),
    _Seat("analyst", "张敏", Role.ANALYST, "province"),
    _Seat("approver", "刘洋", Role.APPROVER, "province"),
    _Seat("auditor", "陈静", Role.AUDITOR, "province"),
    _Seat("city1.manager", "杨帆", Role.CITY_MARKETING_MANAGER, "city1"),
    _Seat("city2.manager", "赵磊", Role.CITY_MARKETING_MANAGER, "city2"),
    _Seat("outlet.manager", "黄丽", Role.OUTLET_MANAGER, "outlet1"),
    _Seat("account.manager", "周杰", Role.ACCOUNT_MANAGER, "centre1"),
    _Seat("agent", "吴芳", Role.SERVICE_AGENT, "outlet1"),
)


def _first(uow: UnitOfWork, kind: OrgKind, under: OrgUnit | None) -> OrgUnit | None:
    stmt = select(OrgUnit).where(OrgUnit.kind == kind, OrgUnit.active)
    if under is not None:
        stmt = stmt.where(OrgUnit.path.startswith(under.path, autoescape=True))
    return uow.session.scalar(stmt.order_by(OrgUnit.code).limit(1))


def _places(uow: UnitOfWork) -> dict[str, OrgUnit]:
    province = _first(uow, OrgKind.PROVINCE, None)
    cities = list(
        uow.session.scalars(
            select(OrgUnit)
            .where(OrgUnit.kind == OrgKind.CITY, OrgUnit.active)
            .order_by(OrgUnit.code)
            .limit(2)
        )
    )
    if province is None or len(cities) < 2:
        raise NotFound("the org tree needs a province and two cities; run `telmark org sync`")
    outlet = _first(uow, OrgKind.OUTLET, cities[0])
    centre = _first(uow, OrgKind.KEY_ACCOUNT_CENTRE, cities[0])
    return {
        "province": province,
        "city1": cities[0],
        "city2": cities[1],
        # Small trees may lack a hall or a centre in the first city; the city itself then.
        "outlet1": outlet or cities[0],
        "centre1": centre or cities[0],
    }


def seed_demo_users(*, uow: UnitOfWork) -> list[DemoLogin]:
    """Create the demo users that do not exist yet (idempotent) and return every demo login."""
    places = _places(uow)
    existing = set(uow.session.scalars(select(User.username)))
    logins: list[DemoLogin] = []
    for seat in SEATS:
        unit = places[seat.place]
        if seat.username not in existing:
            service.create_user(
                uow=uow,
                username=seat.username,
                display_name=seat.display_name,
                org_code=unit.code,
                roles=[seat.role],
                password=DEMO_PASSWORD,
            )
        logins.append(
            DemoLogin(
                username=seat.username,
                password=DEMO_PASSWORD,
                role=seat.role,
                org_code=unit.code,
                org_name=unit.name,
                display_name=seat.display_name,
            )
        )
    return logins
