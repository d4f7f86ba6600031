"""Marketing cases over HTTP: rights by role, approval at the right level, errors as the
API reports them (422 naming the field, 409 naming from/to), frozen projection, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.auth import passwords
from telmark.auth.permissions import Role
from telmark.offers import service as offer_service
from telmark.offers.schemas import parse_offer
from telmark.org.models import OrgUnit
from telmark.segments import service as segment_service
from telmark.segments import snapshots
from telmark.segments.schemas import SegmentCreate
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.auth import make_user
from tests._factories.auth_client import FAST_HASHER, AuthApp
from tests._factories.cases import ALL_LINES, OFFER
from tests._factories.market import province_app, sample_warehouse
from tests._factories.offers import TODAY, add_products, gift, offer_doc
from tests._factories.warehouse import FactoryWarehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("cases-api"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[tuple[AuthApp, int]]:
    for client in province_app(tmp_path, db, warehouse):
        with mock.patch.object(passwords, "_HASHER", FAST_HASHER), UnitOfWork(db) as uow:
            make_user(uow, "nj.approver", org="C01", roles=[Role.APPROVER])
            add_products(uow.session)
            uow.commit()
            offer_service.create_offer(uow=uow, spec=parse_offer(offer_doc(OFFER, gift(10**6))))
            offer_service.activate_offer(uow=uow, code=OFFER, today=TODAY)
            path = uow.session.scalars(select(OrgUnit.path).where(OrgUnit.code == "C01")).one()
        con = connect(warehouse.url)
        with UnitOfWork(db, actor=Actor(username="nanjing", scope_path=path)) as uow:
            segment = segment_service.create_segment(
                uow=uow, spec=SegmentCreate(name="南京全量", org_code="C01", rule=ALL_LINES)
            )
            snapshot = snapshots.take_snapshot(
                uow=uow, con=con, directory=tmp_path / "snapshots", segment_id=segment.id
            )
        con.disconnect()
        yield client, snapshot.id


def _plan(snapshot_id: int, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "南京升级",
        "org_code": "C01",
        "objective": "upsell",
        "snapshot_id": snapshot_id,
        "lines": [{"offer_code": OFFER, "channel": "sms", "reach_bp": 10_000, "take_up_bp": 500}],
        "starts_on": "2026-12-01",
        "ends_on": "2026-12-31",
        "budget_fen": 100_000,
    }
    doc.update(overrides)
    return doc


def _post(app: AuthApp, path: str, csrf: str, body: Any = None) -> Any:
    return app.client.post(path, json=body, headers={"X-CSRF-Token": csrf})


def test_a_city_case_from_draft_to_approved(app: tuple[AuthApp, int]) -> None:
    client, snapshot = app
    http = client.client
    assert http.get("/api/cases").status_code == 401
    client.login("agent")
    assert http.get("/api/cases").status_code == 403
    csrf = client.login("approver")
    assert _post(client, "/api/cases", csrf, _plan(snapshot)).status_code == 403

    csrf = client.login("nanjing")
    bad = _post(client, "/api/cases", csrf, _plan(snapshot, lines=[
        {"offer_code": "NOPE", "channel": "sms", "reach_bp": 1, "take_up_bp": 1}]))  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == "lines[0].offer_code"
    created = _post(client, "/api/cases", csrf, _plan(snapshot))
    assert created.status_code == 201, created.text
    case = created.json()["case"]
    assert created.json()["projection"]["available"] is True
    assert created.json()["projection"]["frozen"] is False
    case_id = case["id"]
    assert [c["id"] for c in http.get("/api/cases").json()] == [case_id]

    wrong = _post(client, f"/api/cases/{case_id}/start", csrf)
    assert wrong.status_code == 409
    assert wrong.json()["error"] == "invalid_transition"
    assert wrong.json()["details"][0] == {"field": "status", "from": "draft", "to": "running"}
    stale = _post(client, f"/api/cases/{case_id}/submit", csrf, {"version": case["version"] + 5})
    assert stale.status_code == 409
    submitted = _post(client, f"/api/cases/{case_id}/submit", csrf)
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["approval_route"] == ["city"]
    assert _post(client, f"/api/cases/{case_id}/approve", csrf).status_code == 403  # no role

    csrf = client.login("approver")  # province scope: not the level this case waits for
    assert http.get("/api/cases/inbox").json() == []
    assert _post(client, f"/api/cases/{case_id}/approve", csrf).status_code == 403
    csrf = client.login("nj.approver")
    assert [i["case"]["id"] for i in http.get("/api/cases/inbox").json()] == [case_id]
    no_comment = _post(client, f"/api/cases/{case_id}/reject", csrf, {"comment": ""})
    assert no_comment.status_code == 422
    approved = _post(client, f"/api/cases/{case_id}/approve", csrf, {"comment": "同意"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    projection = http.get(f"/api/cases/{case_id}/projection").json()
    assert projection["frozen"] is True
    assert len(projection["sensitivity"]) == 5
    timeline = http.get(f"/api/cases/{case_id}/timeline").json()
    assert [(t["action"], t["to_status"]) for t in timeline] == [
        ("create", "draft"),
        ("submit", "submitted"),
        ("approve", "approved"),
    ]
    assert timeline[-1]["actor"] == "nj.approver"
    assert timeline[-1]["comment"] == "同意"

    csrf = client.login("suzhou")  # another city sees nothing of it
    assert http.get(f"/api/cases/{case_id}").status_code == 404
    assert http.get("/api/cases").json() == []


def test_templates_and_openapi(app: tuple[AuthApp, int]) -> None:
    client, _ = app
    client.login("planner")
    templates = client.client.get("/api/cases/templates").json()
    assert {t["key"] for t in templates} == {
        "contract_renewal",
        "upgrade_5g",
        "broadband_cross_sell",
        "win_back_port_out",
        "member_day",
    }
    schema = client.client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/cases",
        "/api/cases/{case_id}/approve",
        "/api/cases/{case_id}/issue",
        "/api/cases/issues/{issue_id}/reissue",
        "/api/cases/alerts/scan",
        "/api/cases/{case_id}/resume",
    ):
        assert path in paths, path
    assert "CaseDetail" in schema["components"]["schemas"]
    assert "ProjectionRead" in schema["components"]["schemas"]
