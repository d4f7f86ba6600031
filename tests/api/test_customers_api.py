"""Customer 360 over HTTP and in the console: masking, audited unmasking, scope, lookups."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.audit.models import AuditEntry
from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.uow import UnitOfWork, uow_dependency
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests._factories.customers import build_customer_warehouse

NJ_AGENT = principal_at("C1", "/P/C1/", roles=[Role.SERVICE_AGENT], user_id=11)
NJ_ANALYST = principal_at("C1", "/P/C1/", roles=[Role.ANALYST], user_id=12)
APPROVER = principal_at("P", "/P/", roles=[Role.APPROVER], user_id=13)
PROVINCE_ADMIN = principal_at("P", "/P/", roles=[Role.PROVINCE_ADMIN], user_id=14)
MSISDN_1 = "13900000001"
MSISDN_8 = "13900000008"
CHART_JSON = re.compile(r'<script type="application/json" id="customer-data">(.*?)</script>', re.S)


def _app(tmp_path: Path, db: sessionmaker[Session], *, analytics: bool = True) -> FastAPI:
    warehouse = build_customer_warehouse(tmp_path / "w", analytics=analytics)
    app = create_app(Settings(data_dir=tmp_path, warehouse_url=warehouse.url))

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as unit:
            yield unit

    app.dependency_overrides[uow_dependency] = test_uow
    return app


@pytest.fixture
def app(tmp_path: Path, db: sessionmaker[Session]) -> FastAPI:
    return _app(tmp_path, db)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def reads(db: sessionmaker[Session]) -> list[AuditEntry]:
    with db() as session:
        stmt = select(AuditEntry).where(AuditEntry.action == "read").order_by(AuditEntry.id)
        return list(session.scalars(stmt))


def test_masked_by_default(app: FastAPI, client: TestClient, db: sessionmaker[Session]) -> None:
    sign_in_as(app, NJ_AGENT)
    body = client.get("/api/customers/1").json()
    identity = body["identity"]
    assert identity["masked"] is True
    assert (identity["msisdn"], identity["customer_name"], identity["id_number"]) == (
        "139****0001",
        "用**",
        "320102********0001",
    )
    assert body["enterprise"]["account_manager_name"] == "王**"
    page = client.get("/customers/1", params={"lang": "en"})
    assert page.status_code == 200
    assert "139****0001" in page.text
    assert MSISDN_1 not in page.text
    assert "320102199001010001" not in page.text
    assert reads(db) == []


def test_unmasking_with_the_right_is_audited(
    app: FastAPI, client: TestClient, db: sessionmaker[Session]
) -> None:
    sign_in_as(app, NJ_AGENT)
    body = client.get("/api/customers/1", params={"unmask": "true"}).json()
    identity = body["identity"]
    assert identity["masked"] is False
    assert (identity["msisdn"], identity["customer_name"], identity["id_number"]) == (
        MSISDN_1,
        "用户1",
        "320102199001010001",
    )
    assert body["enterprise"]["account_manager_name"] == "王经理"
    [entry] = reads(db)
    assert (entry.actor_username, entry.entity_type, entry.entity_id) == (
        NJ_AGENT.username,
        "subscribers",
        "1",
    )
    assert entry.summary == "customer 360"

    page = client.get("/customers/1", params={"unmask": "true", "lang": "en"})
    assert MSISDN_1 in page.text
    assert 'id="unmasked-notice"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert len(reads(db)) == 2


def test_no_unmasking_without_the_right(
    app: FastAPI, client: TestClient, db: sessionmaker[Session]
) -> None:
    for principal in (NJ_ANALYST, PROVINCE_ADMIN):
        sign_in_as(app, principal)
        body = client.get("/api/customers/1", params={"unmask": "true"}).json()
        assert body["identity"]["masked"] is True
        assert body["identity"]["msisdn"] == "139****0001"
        page = client.get("/customers/1", params={"unmask": "true", "lang": "en"})
        assert page.status_code == 200
        assert MSISDN_1 not in page.text
        assert 'id="mask-off"' not in page.text  # no switch offered
        found = client.get("/api/customers", params={"msisdn": MSISDN_1, "unmask": "true"})
        assert found.json()["items"][0]["msisdn"] == "139****0001"
    # Only the two searches by number were recorded, both as masked.
    assert [e.summary for e in reads(db)] == ["customer search by mobile number"] * 2
    assert all(e.after is not None and e.after["unmasked"] is False for e in reads(db))


def test_outside_the_scope_is_404_never_403(app: FastAPI, client: TestClient) -> None:
    sign_in_as(app, NJ_AGENT)
    for path in ("/api/customers/8", "/api/customers/999"):
        response = client.get(path, params={"unmask": "true"})
        assert response.status_code == 404
        assert response.json()["message"] in (
            "no subscriber 8 in your scope",
            "no subscriber 999 in your scope",
        )
    page = client.get("/customers/8", params={"lang": "en"})
    assert page.status_code == 404
    assert "苏州" not in page.text
    assert client.get("/api/customers", params={"subscriber_id": "8"}).json()["items"] == []
    assert client.get("/api/customers", params={"msisdn": MSISDN_8}).json()["items"] == []
    # The province sees subscriber 8.
    sign_in_as(app, PROVINCE_ADMIN)
    assert client.get("/api/customers/8").json()["identity"]["home_outlet"]["name"] == "姑苏营业厅"


def test_a_search_by_mobile_number_is_recorded(
    app: FastAPI, client: TestClient, db: sessionmaker[Session]
) -> None:
    sign_in_as(app, NJ_AGENT)
    body = client.get("/api/customers", params={"msisdn": MSISDN_1}).json()
    assert body["by"] == "msisdn"
    assert [(c["subscriber_id"], c["msisdn"], c["masked"]) for c in body["items"]] == [
        (1, "139****0001", True)
    ]
    [entry] = reads(db)
    assert (entry.summary, entry.entity_id) == ("customer search by mobile number", "1")
    assert entry.after is not None
    assert entry.after["msisdn"] == "139****0001"  # the trail itself holds no number in clear
    assert (entry.after["matches"], entry.after["ids"]) == (1, ["1"])
    # The console search is recorded the same way, and links to the 360 page.
    page = client.get("/customers", params={"msisdn": MSISDN_1, "lang": "en"})
    assert 'href="/customers/1"' in page.text
    assert '<code class="msisdn">139****0001</code>' in page.text
    assert len(reads(db)) == 2
    # A search by id is not (it reveals nothing while masked).
    assert client.get("/api/customers", params={"subscriber_id": "1"}).json()["items"]
    assert len(reads(db)) == 2


def test_bad_lookups_name_the_field(app: FastAPI, client: TestClient) -> None:
    sign_in_as(app, NJ_AGENT)
    response = client.get("/api/customers", params={"msisdn": "1390000"})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "msisdn"
    both = client.get("/api/customers", params={"msisdn": MSISDN_1, "subscriber_id": "1"})
    assert both.status_code == 422
    page = client.get("/customers", params={"subscriber_id": "abc", "lang": "en"})
    assert page.status_code == 422
    assert "A subscriber id is a whole number." in page.text
    assert client.get("/api/customers").json() == {"by": None, "items": []}


def test_rights(app: FastAPI, client: TestClient) -> None:
    sign_in_as(app, APPROVER)  # judges aggregates; no customer pages
    assert client.get("/api/customers/1").status_code == 403
    assert client.get("/customers").status_code == 403
    sign_in_as(app, NJ_AGENT)  # no overview, but the customer pages and their nav entry
    assert client.get("/").status_code == 403
    search = client.get("/customers", params={"lang": "en"})
    assert search.status_code == 200
    assert 'href="/customers"' in search.text
    assert ">Overview<" not in search.text


def _chart_data(html: str) -> dict[str, Any]:
    match = CHART_JSON.search(html)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_the_page_shows_the_warehouse_numbers(app: FastAPI, client: TestClient) -> None:
    sign_in_as(app, NJ_AGENT)
    page = client.get("/customers/1", params={"lang": "en"})
    text = page.text
    data = _chart_data(text)
    assert data["months"] == ["2024-01", "2024-02", "2024-03"]
    assert data["arpuYuan"] == [50.0, 52.0, 48.0]
    assert data["dataMb"] == [10_000] * 3
    assert data["voiceMin"] == [300] * 3
    assert data["droppedCalls"] == [1] * 3
    for fragment in (
        "Gold",  # value tier of the latest value row
        "CN¥143.21",  # decayed value 14,321 fen
        "CN¥1,876.54",  # CLV 187,654 fen
        "High risk",
        "41.4%",  # churn probability 0.4137
        "10 / 10",
        "Model 2, features of 2024-03",
        "全家享199融合套餐",
        "500 Mbps",
        "南京某某科技有限公司",
        "IT services",
        "10GB流量包",
        "CN¥100.00",  # the latest recharge
        "CN¥30.00",  # the data-pack order
        "Billing",
        "Open",
        "玄武营业厅",
        "35-44",
    ):
        assert fragment in text, fragment
    rfm = re.search(r'data-fact="rfm_score"><dt>[^<]*</dt><dd>(\d+)', text)
    assert rfm is not None
    assert rfm.group(1) == "13"  # r + f + m of the latest value row
    assert 'data-order="2"' in text
    assert 'data-complaint="1"' in text


def test_missing_analysis_tables_are_explained(tmp_path: Path, db: sessionmaker[Session]) -> None:
    app = _app(tmp_path, db, analytics=False)
    sign_in_as(app, NJ_AGENT)
    with TestClient(app) as client:
        body = client.get("/api/customers/1").json()
        page = client.get("/customers/1", params={"lang": "en"}).text
    assert body["value"] == {
        "state": "not_computed",
        "table": "customer_value",
        "command": "telmark analysis value refresh",
        "value": None,
    }
    assert body["churn"]["state"] == "not_computed"
    assert "Customer value has not been computed yet" in page
    assert "telmark analysis value refresh" in page
    assert "telmark analysis churn score" in page
    assert "Gold" not in page
