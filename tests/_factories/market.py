"""An app over a seeded 13-city sample province whose org tree is synced from the warehouse.

Unlike ``auth_client.auth_app`` (whose operational org codes differ from the tiny
warehouse's), here the cities of the operational database are the warehouse's
(C01 南京, C02 苏州, …), so market inputs, KPIs and reports of one city line up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth import passwords
from telmark.auth.deps import get_clock
from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.org import service as org_service
from telmark.uow import UnitOfWork, uow_dependency
from telmark.warehouse.connection import connect
from telmark.web.app import create_app
from tests._factories.auth import FakeClock, make_user
from tests._factories.auth_client import FAST_HASHER, AuthApp
from tests._factories.warehouse import FactoryWarehouse, build_sample_province

# username → (org unit, roles)
PROVINCE_USERS = {
    "planner": ("P", [Role.MARKETING_PLANNER]),
    "approver": ("P", [Role.APPROVER]),
    "agent": ("C01D1O1", [Role.SERVICE_AGENT]),
    "nanjing": ("C01", [Role.CITY_MARKETING_MANAGER]),
    "suzhou": ("C02", [Role.CITY_MARKETING_MANAGER]),
    "nanjing.district": ("C01D1", [Role.CITY_MARKETING_MANAGER]),
}


def sample_warehouse(directory: Path) -> FactoryWarehouse:
    """The sample province used by market and report tests (small: 900 lines, 14 months)."""
    return build_sample_province(directory, subscribers=900, months=14, seed=11)


def province_app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse | None = None
) -> Iterator[AuthApp]:
    """A logged-out client; ``login(name)`` signs in one of ``PROVINCE_USERS``."""
    built = warehouse or sample_warehouse(tmp_path)
    ids: dict[str, int] = {}
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        with UnitOfWork(db) as uow:
            con = connect(built.url)
            org_service.sync_from_warehouse(uow=uow, con=con)
            con.disconnect()
            for username, (org, roles) in PROVINCE_USERS.items():
                ids[username] = make_user(uow, username, org=org, roles=roles).id
        settings = Settings(data_dir=tmp_path, warehouse_url=built.url)
        clock = FakeClock()

        def test_uow() -> Iterator[UnitOfWork]:
            with UnitOfWork(db) as unit:
                yield unit

        app = create_app(settings)
        app.dependency_overrides[uow_dependency] = test_uow
        app.dependency_overrides[get_clock] = lambda: clock
        with TestClient(app) as client:
            yield AuthApp(client=client, clock=clock, ids=ids)
