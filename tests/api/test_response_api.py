"""Responses through the app: event batches, a case's counts, the window, the console page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.execution.responses.models import ResponseEvent
from telmark.org.models import OrgUnit
from telmark.uow import UnitOfWork, uow_dependency
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests._factories.warehouse import build_tiny_warehouse
from tests.integration.test_response_attribution import World, at, build_world


@dataclass
class Api:
    client: TestClient
    world: World
    paths: dict[str, str]

    def as_(self, code: str, *roles: Role) -> None:
        sign_in_as(self.client.app, principal_at(code, self.paths[code], roles=roles))  # type: ignore[arg-type]


@pytest.fixture
def api(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path, warehouse_url=build_tiny_warehouse(tmp_path).url)
    world = build_world(db, settings.resolved_targeting_dir)
    with UnitOfWork(db) as uow:
        paths = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as unit:
            yield unit

    app = create_app(settings)
    app.dependency_overrides[uow_dependency] = test_uow
    with TestClient(app) as client:
        yield Api(client=client, world=world, paths=paths)


BATCH = {
    "events": [
        {"event_id": "B1", "subscriber_id": 1, "type": "offer_accepted",
         "offer_code": "RENEW-50", "occurred_at": at(2), "revenue_fen": 3000},
        {"event_id": "B2", "subscriber_id": 7, "type": "offer_accepted",
         "offer_code": "RENEW-50", "occurred_at": at(4), "revenue_fen": 3000},
    ]
}  # fmt: skip


def stored(api: Api) -> int:
    with UnitOfWork(api.world.db) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(ResponseEvent)) or 0)


def test_a_planner_sends_batches_idempotently(api: Api) -> None:
    api.as_("P00", Role.MARKETING_PLANNER)
    first = api.client.post("/api/responses/events", json=BATCH)
    assert first.status_code == 200, first.text
    assert (first.json()["new_events"], first.json()["attribution"]["attributed"]) == (2, 2)
    again = api.client.post("/api/responses/events", json=BATCH)
    assert (again.json()["new_events"], again.json()["already_known"]) == (0, 2)
    bad = {"events": [{**BATCH["events"][0], "event_id": "B3", "offer_code": None}]}
    refused = api.client.post("/api/responses/events", json=bad)
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "events[0].offer_code"
    assert stored(api) == 2


def test_only_importers_at_the_province_send_events(api: Api) -> None:
    api.as_("C01", Role.CITY_MARKETING_MANAGER)
    assert api.client.post("/api/responses/events", json=BATCH).status_code == 403
    api.as_("C01", Role.PROVINCE_ADMIN)  # holds responses:import, but below the province
    assert api.client.post("/api/responses/events", json=BATCH).status_code == 403
    assert stored(api) == 0


def test_a_case_reads_treatment_against_control(api: Api) -> None:
    api.as_("P00", Role.MARKETING_PLANNER)
    api.client.post("/api/responses/events", json=BATCH)
    renew = api.world.renew
    read = api.client.get(f"/api/responses/cases/{renew}", params={"by": "city"})
    assert read.status_code == 200, read.text
    body = read.json()
    totals = {t["group"]: t for t in body["totals"]}
    assert (totals["treatment"]["exposed"], totals["treatment"]["responders"]) == (7, 1)
    assert (totals["control"]["exposed"], totals["control"]["responders"]) == (3, 1)
    assert {(r["key"], r["group"]) for r in body["rows"]} >= {
        ("C01", "treatment"),
        ("C02", "control"),
    }
    assert [r["event_id"] for r in body["recent"]] == ["B2", "B1"]
    assert all("****" in r["msisdn"] for r in body["recent"])
    counts = api.client.get(f"/api/responses/cases/{renew}/counts", params={"by": "channel"})
    assert {(c["key"], c["group"]) for c in counts.json()} == {
        ("frontline", "treatment"), ("frontline", "control"), ("sms", "treatment"),
        ("sms", "control"),
    }  # fmt: skip
    assert api.client.get("/api/responses/cases/99999").status_code == 404
    assert api.client.get(f"/api/responses/cases/{renew}?by=segment").status_code == 422

    page = api.client.get(f"/responses/cases/{renew}")
    assert page.status_code == 200
    assert "B1" not in page.text  # event ids are not shown; numbers are, masked
    assert "****" in page.text
    assert 'id="take-up-chart"' in page.text
    listing = api.client.get("/responses")
    assert f'href="/responses/cases/{renew}"' in listing.text


def test_the_window_is_set_by_the_case_manager_and_reattributes(api: Api) -> None:
    api.as_("P00", Role.MARKETING_PLANNER)
    api.client.post("/api/responses/events", json=BATCH)
    renew = api.world.renew
    short = api.client.put(f"/api/responses/cases/{renew}/window", json={"days": 3})
    assert short.status_code == 200, short.text
    assert (short.json()["effective_days"], short.json()["attribution"]["removed"]) == (3, 1)
    reset = api.client.put(f"/api/responses/cases/{renew}/window", json={"days": None})
    assert (reset.json()["effective_days"], reset.json()["attribution"]["attributed"]) == (30, 1)
    assert (
        api.client.put(f"/api/responses/cases/{renew}/window", json={"days": 0}).status_code == 422
    )
    api.as_("P00", Role.ANALYST)
    assert (
        api.client.put(f"/api/responses/cases/{renew}/window", json={"days": 5}).status_code == 403
    )
