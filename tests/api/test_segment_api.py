"""Saved segments over HTTP: rights, scope, versions, counts on the scoped warehouse, samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.audit.models import AuditEntry
from telmark.segments.compile import count
from telmark.segments.rules import parse_rule
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.auth_client import AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.warehouse import FactoryWarehouse

PREPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
}
POSTPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("segments"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    yield from province_app(tmp_path, db, warehouse)


def _create(app: AuthApp, name: str, org_code: str, rule: dict[str, object]) -> dict[str, object]:
    response = app.client.post(
        "/api/segments",
        json={"name": name, "org_code": org_code, "rule": rule},
        headers={"X-CSRF-Token": app.csrf()},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_rights_scope_and_versions(app: AuthApp) -> None:
    client = app.client
    assert client.get("/api/segments").status_code == 401
    app.login("agent")  # no aggregate reads
    assert client.get("/api/segments").status_code == 403
    csrf = app.login("approver")  # judges cases on aggregates, does not define segments
    assert client.get("/api/segments").json() == []
    denied = client.post(
        "/api/segments",
        json={"name": "x", "rule": PREPAID},
        headers={"X-CSRF-Token": csrf},
    )
    assert denied.status_code == 403
    csrf = app.login("nanjing")  # a city manager defines segments of their own city only
    elsewhere = client.post(
        "/api/segments",
        json={"name": "x", "org_code": "C02", "rule": PREPAID},
        headers={"X-CSRF-Token": csrf},
    )
    assert elsewhere.status_code == 404
    own = _create(app, "南京自建", "C01", PREPAID)
    assert own["org_code"] == "C01"
    assert client.get("/api/segments").json()[0]["id"] == own["id"]

    app.login("planner")
    nanjing = _create(app, "南京预付费", "C01", PREPAID)
    suzhou = _create(app, "苏州预付费", "C02", PREPAID)
    headers = {"X-CSRF-Token": app.csrf()}
    invalid = client.put(
        f"/api/segments/{nanjing['id']}",
        json={"rule": {"version": 1, "root": {"all": [{"kind": "tenure_months", "op": "~"}]}}},
        headers=headers,
    )
    assert invalid.status_code == 422
    assert invalid.json()["details"][0]["path"].startswith("root.all[0]")
    edited = client.put(
        f"/api/segments/{nanjing['id']}", json={"rule": POSTPAID, "note": "后付费"}, headers=headers
    )
    assert edited.json()["current_version"] == 2
    versions = client.get(f"/api/segments/{nanjing['id']}/versions").json()
    assert [(v["version"], v["rule"]["root"]["value"]) for v in versions] == [
        (1, "prepaid"),
        (2, "postpaid"),
    ]

    app.login("nanjing")
    assert [s["id"] for s in client.get("/api/segments").json()] == [nanjing["id"], own["id"]]
    for path in ("", "/versions", "/count", "/sample"):
        assert client.get(f"/api/segments/{suzhou['id']}{path}").status_code == 404, path

    app.login("planner")
    headers = {"X-CSRF-Token": app.csrf()}
    archived = client.delete(f"/api/segments/{nanjing['id']}", headers=headers)
    assert archived.json()["status"] == "archived"
    refused = client.put(f"/api/segments/{nanjing['id']}", json={"rule": PREPAID}, headers=headers)
    assert refused.status_code == 409
    assert client.get(f"/api/segments/{nanjing['id']}/count").status_code == 200
    copy = client.post(f"/api/segments/{nanjing['id']}/clone", headers=headers)
    assert copy.status_code == 201
    assert copy.json()["rule"] == POSTPAID
    assert copy.json()["status"] == "active"
    restored = client.post(f"/api/segments/{nanjing['id']}/restore", headers=headers)
    assert restored.json()["status"] == "active"


def test_count_and_sample_follow_the_callers_scope(
    app: AuthApp, warehouse: FactoryWarehouse, db: sessionmaker[Session]
) -> None:
    con = connect(warehouse.url)
    everyone = count(con, parse_rule(PREPAID))
    con.disconnect()
    app.login("planner")
    province = _create(app, "全省预付费", "P", PREPAID)
    city = _create(app, "南京预付费", "C01", PREPAID)
    outlet = _create(app, "营业厅预付费", "C01D1O1", PREPAID)

    counted = app.client.get(f"/api/segments/{city['id']}/count").json()
    assert counted["count"] == everyone  # the planner counts the whole province
    assert app.client.get(f"/api/segments/{province['id']}/count").json()["count"] == everyone

    app.login("nanjing")
    own = app.client.get(f"/api/segments/{city['id']}/count").json()
    assert 0 < own["count"] < everyone
    assert app.client.get(f"/api/segments/{province['id']}/count").status_code == 404
    sample = app.client.get(f"/api/segments/{city['id']}/sample?n=5&unmask=true").json()
    assert sample["count"] == own["count"]
    assert not sample["unmasked"]  # a city manager may not unmask
    assert len(sample["members"]) == 5
    assert all(m["payment_type"] == "prepaid" for m in sample["members"])
    assert all("*" in m["msisdn"] for m in sample["members"])

    app.login("agent")  # front line: reads customers, may unmask
    masked = app.client.get(f"/api/segments/{outlet['id']}/sample?n=3").json()
    clear = app.client.get(f"/api/segments/{outlet['id']}/sample?n=3&unmask=true").json()
    assert clear["unmasked"]
    assert [m["subscriber_id"] for m in clear["members"]] == [
        m["subscriber_id"] for m in masked["members"]
    ]
    assert all("*" not in m["msisdn"] for m in clear["members"])
    assert all("*" in m["msisdn"] for m in masked["members"])
    with UnitOfWork(db) as uow:
        readers = uow.session.scalars(
            select(AuditEntry.actor_username).where(
                AuditEntry.summary == f"sample of segment {outlet['id']}"
            )
        ).all()
    assert readers == ["agent"]  # the masked sample is not recorded
