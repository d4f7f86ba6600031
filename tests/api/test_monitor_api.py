"""The execution monitor through the app: JSON routes and console pages, by role and scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.permissions import Role
from telmark.config import Settings, get_settings
from telmark.execution.monitor import scan as monitor_scan
from telmark.uow import UnitOfWork, uow_dependency
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests.integration.test_monitor_service import NOW, World, build_world


@dataclass
class Api:
    client: TestClient
    world: World

    def as_(self, code: str, *roles: Role) -> None:
        sign_in_as(self.client.app, principal_at(code, self.world.paths[code], roles=roles))  # type: ignore[arg-type]


@pytest.fixture
def api(db: sessionmaker[Session]) -> Iterator[Api]:
    world = build_world(db)
    with UnitOfWork(db) as uow:
        monitor_scan.scan(uow=uow, now=NOW)  # no recipients yet: nothing is mailed
    settings = Settings(data_dir=get_settings().data_dir)

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as unit:
            yield unit

    app = create_app(settings)
    app.dependency_overrides[uow_dependency] = test_uow
    with TestClient(app) as client:
        yield Api(client=client, world=world)


def test_progress_and_alerts_are_city_scoped(api: Api) -> None:
    api.as_("C02", Role.CITY_MARKETING_MANAGER)
    client = api.client
    progress = client.get(f"/api/monitor/cases/{api.world.case_id}", params={"by": "city"})
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["funnel"]["planned"] == 60
    assert [r["key"] for r in body["rows"]] == ["C02"]
    alerts = client.get("/api/monitor/alerts").json()
    assert sorted((a["kind"], a["org_code"]) for a in alerts) == [
        ("ack_overdue", "C02D01"),
        ("execution_behind", "C02"),
    ]
    assert "C01" not in client.get("/monitor").text

    api.as_("C01", Role.CITY_MARKETING_MANAGER)
    assert client.get("/api/monitor/alerts").json() == []
    wuxi = alerts[0]["id"]
    for method, path, body_ in (
        ("GET", f"/api/monitor/alerts/{wuxi}", None),
        ("POST", f"/api/monitor/alerts/{wuxi}/acknowledge", {"note": "x"}),
        ("POST", f"/api/monitor/alerts/{wuxi}/resolve", {"note": "x"}),
        ("GET", "/api/monitor/settings/C02", None),
        ("PUT", "/api/monitor/settings/C02", {"recipients": []}),
    ):
        assert client.request(method, path, json=body_).status_code == 404, (method, path)


def test_acknowledge_and_resolve_need_monitor_manage_and_a_note(api: Api) -> None:
    client = api.client
    api.as_("C02", Role.OUTLET_MANAGER)  # reads cases, may not handle alerts
    (lag,) = [a for a in client.get("/api/monitor/alerts").json() if a["org_code"] == "C02"]
    assert client.post(f"/api/monitor/alerts/{lag['id']}/acknowledge", json={}).status_code == 403
    api.as_("C02", Role.CITY_MARKETING_MANAGER)
    refused = client.post(f"/api/monitor/alerts/{lag['id']}/resolve", json={"note": ""})
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "note"
    taken = client.post(f"/api/monitor/alerts/{lag['id']}/acknowledge", json={"note": "督办"})
    assert (taken.status_code, taken.json()["status"]) == (200, "acknowledged")
    again = client.post(f"/api/monitor/alerts/{lag['id']}/acknowledge", json={})
    assert again.status_code == 409
    done = client.post(f"/api/monitor/alerts/{lag['id']}/resolve", json={"note": "已补发"})
    assert (done.json()["status"], done.json()["resolve_note"]) == ("resolved", "已补发")
    # The console's HTMX row answers 200 with the problem when the change is refused.
    row = client.post(f"/monitor/alerts/{lag['id']}/resolve", data={"note": "再次"})
    assert row.status_code == 200
    assert 'data-status="resolved"' in row.text
    assert "form-error" in row.text


def test_the_scan_and_settings(api: Api) -> None:
    client = api.client
    api.as_("C01", Role.MARKETING_PLANNER)
    assert client.post("/api/monitor/scan").status_code == 403
    api.as_("P00", Role.MARKETING_PLANNER)
    first = client.post("/api/monitor/scan")  # as of the real now: later checkpoints may be due
    assert first.status_code == 200, first.text
    scan = client.post("/api/monitor/scan").json()
    assert scan["raised"] == []  # nothing twice
    alerts = client.get("/api/monitor/alerts").json()
    assert scan["mail"]["waiting"] == len(alerts) >= 3
    assert scan["open"] == len(alerts)
    put = client.put(
        "/api/monitor/settings/C02",
        json={"recipients": ["wx@t.cn"], "thresholds": {"execution_ratio_bp": 8000}},
    )
    assert put.status_code == 200, put.text
    got = client.get("/api/monitor/settings/C02D01").json()
    assert (got["configured_at"], got["recipients"]) == ("C02", ["wx@t.cn"])
    assert got["thresholds"]["execution_ratio_bp"] == 8000
    bad = client.put("/api/monitor/settings/C02", json={"thresholds": {"failure_rate_bp": 0}})
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == "thresholds.failure_rate_bp"


def test_the_console_pages(api: Api) -> None:
    client = api.client
    api.as_("P00", Role.MARKETING_PLANNER)
    page = client.get("/monitor")
    assert page.status_code == 200
    assert 'id="scan-now"' in page.text
    assert page.text.count('class="panel monitor-alert') == 3
    detail = client.get(f"/monitor/cases/{api.world.case_id}", params={"by": "outlet"})
    assert detail.status_code == 200
    assert 'data-state="missed"' in detail.text
    assert 'data-key="C02D01"' in detail.text
