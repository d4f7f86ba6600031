"""Case evaluation through the app: the JSON evaluation, recording, exports, the league, pages."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.uow import UnitOfWork, uow_dependency
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests._factories.warehouse import build_tiny_warehouse
from tests.integration.test_case_eval_service import CaseWorld, build_case_world


@dataclass
class Api:
    client: TestClient
    world: CaseWorld

    def as_(self, code: str, *roles: Role) -> None:
        principal = principal_at(code, self.world.paths[code], roles=roles)
        sign_in_as(self.client.app, principal)  # type: ignore[arg-type]


@pytest.fixture
def api(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path, warehouse_url=build_tiny_warehouse(tmp_path).url)
    world = build_case_world(db, settings.resolved_targeting_dir)

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as unit:
            yield unit

    app = create_app(settings)
    app.dependency_overrides[uow_dependency] = test_uow
    with TestClient(app) as client:
        yield Api(client=client, world=world)


def test_a_planner_evaluates_records_and_marks_the_case_evaluated(api: Api) -> None:
    api.as_("P00", Role.MARKETING_PLANNER)
    case = api.world.case_id
    read = api.client.get(f"/api/evaluation/cases/{case}", params={"by": ["city", "offer"]})
    assert read.status_code == 200, read.text
    body = read.json()
    assert [b["dimension"] for b in body["breakdowns"]] == ["city", "offer"]
    assert body["overall"]["treatment"]["customers"] == api.world.expected("treatment")[0]
    assert body["overall"]["comparison"]["significant"] is True
    assert api.client.get(f"/api/evaluation/cases/{case}?by=segment").status_code == 422
    assert api.client.get("/api/evaluation/cases/99999").status_code == 404
    assert api.client.get(f"/api/evaluation/cases/{case}/recorded").status_code == 404

    refused = api.client.post(f"/api/cases/{case}/evaluate", json={})
    assert refused.status_code == 409
    assert "no recorded evaluation" in refused.json()["message"]
    recorded = api.client.post(f"/api/evaluation/cases/{case}/record", json={"comment": "复盘"})
    assert recorded.status_code == 201, recorded.text
    again = api.client.get(f"/api/evaluation/cases/{case}/recorded").json()
    assert again["recorded"]["comment"] == "复盘"
    assert again["overall"]["comparison"] == body["overall"]["comparison"]
    moved = api.client.post(f"/api/cases/{case}/evaluate", json={})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "evaluated"

    league = api.client.get("/api/evaluation/league").json()
    assert [r["case_code"] for r in league] == ["EVAL"]
    assert league[0]["recorded_at"] is not None
    assert league[0]["significant"] is True


def test_exports_open(api: Api) -> None:
    api.as_("P00", Role.MARKETING_PLANNER)
    case = api.world.case_id
    xlsx = api.client.get(f"/api/evaluation/cases/{case}/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(xlsx.content))
    cells = {str(c.value) for s in book.worksheets for row in s.iter_rows() for c in row}
    assert "续约评估案" in cells
    pdf = api.client.get(f"/evaluation/cases/{case}/evaluation.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_who_may_record_and_what_a_city_sees(api: Api) -> None:
    case = api.world.case_id
    api.as_("P00", Role.APPROVER)  # evaluation:read only
    assert api.client.get(f"/api/evaluation/cases/{case}").status_code == 200
    assert api.client.post(f"/api/evaluation/cases/{case}/record", json={}).status_code == 403
    api.as_("C01", Role.CITY_MARKETING_MANAGER)
    part = api.client.get(f"/api/evaluation/cases/{case}").json()
    assert part["partial"] is True
    assert part["overall"]["treatment"]["customers"] == api.world.expected("treatment", "C01")[0]
    # The province case is the province's to record.
    assert api.client.post(f"/api/evaluation/cases/{case}/record", json={}).status_code == 403
    league = api.client.get("/api/evaluation/league").json()
    assert [(r["case_code"], r["partial"]) for r in league] == [("EVAL", True)]
    api.as_("C02", Role.CITY_MARKETING_MANAGER)  # not issued to Wuxi: invisible
    assert api.client.get(f"/api/evaluation/cases/{case}").status_code == 404
    assert api.client.get("/api/evaluation/league").json() == []


def test_the_console_page_and_league(api: Api) -> None:
    api.as_("P00", Role.MARKETING_PLANNER)
    case = api.world.case_id
    page = api.client.get(f"/evaluation/cases/{case}")
    assert page.status_code == 200
    for marker in ('id="uplift-chart"', 'id="curve-chart"', 'id="guardrails"', 'id="projection"',
                   'id="export-xlsx"', 'id="record-form"', "无锡分公司"):  # fmt: skip
        assert marker in page.text, marker
    posted = api.client.post(f"/evaluation/cases/{case}/record", data={"comment": "好"},
                             follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303
    assert 'id="recorded"' in api.client.get(f"/evaluation/cases/{case}").text
    league = api.client.get("/evaluation/league")
    assert league.status_code == 200
    assert f'href="/evaluation/cases/{case}"' in league.text
