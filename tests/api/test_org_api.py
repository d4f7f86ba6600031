"""Org routes (JSON and console) over both operational databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from telmark.config import Settings
from telmark.org import service
from telmark.uow import UnitOfWork, uow_dependency
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests._factories.warehouse import build_tiny_warehouse
from tests.integration.test_org_service import STAFF, UNITS


@pytest.fixture
def client(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[TestClient]:
    with UnitOfWork(db) as uow:
        service.sync_tree(uow=uow, units=UNITS, staff=STAFF)
    settings = Settings(data_dir=tmp_path, warehouse_url=build_tiny_warehouse(tmp_path).url)

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as uow:
            yield uow

    app = create_app(settings)
    app.dependency_overrides[uow_dependency] = test_uow
    sign_in_as(app, principal_at("P00", "/P00/"))
    with TestClient(app) as test_client:
        yield test_client


def test_units_tree_and_subtree(client: TestClient) -> None:
    everything = client.get("/api/org/units").json()
    assert [u["code"] for u in everything][:2] == ["P00", "C01"]
    assert len(everything) == len(UNITS)
    shallow = client.get("/api/org/units", params={"root": "P00", "depth": 1}).json()
    assert {u["code"] for u in shallow} == {"P00", "C01", "C02"}
    assert client.get("/api/org/units", params={"depth": 99}).status_code == 422


def test_unit_detail_staff_and_unknown_code(client: TestClient) -> None:
    detail = client.get("/api/org/units/C01D01O001").json()
    assert [a["code"] for a in detail["ancestors"]] == ["P00", "C01", "C01D01"]
    staff = client.get("/api/org/units/C01/staff", params={"include_descendants": True}).json()
    assert [s["code"] for s in staff] == ["E002", "E003"]
    missing = client.get("/api/org/units/NOPE")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


def test_console_tree_page_and_fragments(client: TestClient) -> None:
    page = client.get("/org")
    assert page.status_code == 200
    assert "南京分公司" in page.text
    assert "地市分公司" in page.text  # kind label in Chinese by default
    children = client.get("/org/units/C01/children", headers={"HX-Request": "true"})
    assert "玄武区" in children.text
    assert "<html" not in children.text
    fragment = client.get("/org/units/C01D01", headers={"HX-Request": "true"})
    assert "张伟" in fragment.text  # staff of the outlet below the district
    english = client.get("/org/units/C01D01", params={"lang": "en"})
    assert "City branch" in english.text
    assert "<html" in english.text
