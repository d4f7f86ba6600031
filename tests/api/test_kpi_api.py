"""The KPI cube through HTTP: JSON reads, scope (404), refresh rights (403), the console page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from telmark.analysis.kpi import service
from telmark.analysis.kpi.schemas import KpiRead
from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.warehouse.connection import connect
from telmark.web.app import create_app
from tests._factories.auth import principal_at, province_app, sign_in_as
from tests._factories.warehouse import FactoryWarehouse
from tests.unit.test_kpi_cube import build_kpi_tiny


@pytest.fixture
def tiny(tmp_path: Path) -> FactoryWarehouse:
    return build_kpi_tiny(tmp_path)


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", warehouse_url=url)


@pytest.fixture
def client(tmp_path: Path, tiny: FactoryWarehouse) -> Iterator[TestClient]:
    with TestClient(province_app(_settings(tmp_path, tiny.url))) as test_client:
        yield test_client


@pytest.fixture
def nanjing(tmp_path: Path, tiny: FactoryWarehouse) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path, tiny.url))
    sign_in_as(app, principal_at("C1", "/P/C1/", org_name="南京"))
    with TestClient(app) as test_client:
        yield test_client


def test_kpi_json_is_the_service_result(client: TestClient, tiny: FactoryWarehouse) -> None:
    response = client.get("/api/analysis/kpi", params={"unit": "C1"})
    assert response.status_code == 200, response.text
    con = connect(tiny.url)
    try:
        expected = service.unit_kpis(con=con, unit="C1")
    finally:
        con.disconnect()
    assert KpiRead.model_validate(response.json()) == expected
    body = response.json()
    assert body["series"][0]["ratios"]["arpu_fen"] == 3517
    assert body["yoy_available"] is False


def test_kpi_filters_and_bad_filters(client: TestClient) -> None:
    body = client.get("/api/analysis/kpi", params={"plan_family": "4g_plan", "months": 2}).json()
    assert [p["counts"]["subscribers"] for p in body["series"]] == [1, 1]
    bad = client.get("/api/analysis/kpi", params={"payment_type": "credit"})
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == "payment_type"


def test_unit_month_ranks_cities(client: TestClient) -> None:
    body = client.get("/api/analysis/kpi/month", params={"unit": "C2"}).json()
    assert body["month"] == "2024-03-01"
    assert {p["unit"]["org_id"] for p in body["peers"]} == {"C1", "C2"}


def test_city_user_gets_404_for_another_city(nanjing: TestClient) -> None:
    assert nanjing.get("/api/analysis/kpi", params={"unit": "C2"}).status_code == 404
    assert nanjing.get("/api/analysis/kpi/month", params={"unit": "C2"}).status_code == 404
    assert nanjing.get("/analysis/kpi", params={"unit": "C2"}).status_code == 404
    own = nanjing.get("/api/analysis/kpi").json()
    assert own["unit"]["org_id"] == "C1"
    assert "C2" not in json.dumps(own)
    assert "苏州" not in nanjing.get("/analysis/kpi?lang=en").text


def test_refresh_needs_province_scope_and_analysis_rights(
    tmp_path: Path, tiny: FactoryWarehouse, client: TestClient, nanjing: TestClient
) -> None:
    forbidden = nanjing.post("/api/analysis/kpi/refresh")
    assert forbidden.status_code == 403
    assert "province" in forbidden.json()["message"]
    app = create_app(_settings(tmp_path, tiny.url))
    sign_in_as(app, principal_at("P", "/P/", roles=[Role.APPROVER]))  # reads, runs nothing
    with TestClient(app) as reader:
        assert reader.post("/api/analysis/kpi/refresh").status_code == 403
    done = client.post("/api/analysis/kpi/refresh")
    assert done.status_code == 200, done.text
    assert done.json()["table"] == "kpi_cube"


def test_missing_cube_is_a_409_with_the_command(tmp_path: Path) -> None:
    url = build_kpi_tiny(tmp_path / "fresh", refresh=False).url
    with TestClient(province_app(_settings(tmp_path, url))) as c:
        response = c.get("/api/analysis/kpi")
        assert response.status_code == 409
        assert response.json()["error"] == "warehouse_empty"
        assert "telmark analysis kpi refresh" in response.json()["message"]
        page = c.get("/analysis/kpi?lang=en")
        assert page.status_code == 200
        assert "telmark analysis kpi refresh" in page.text
        assert 'id="kpi-empty"' in page.text


def _chart_data(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="kpi-data">(.*?)</script>', html)
    assert match, "the page has no chart data block"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_page_renders_cards_charts_and_drill_down_links(client: TestClient) -> None:
    page = client.get("/analysis/kpi?lang=en")
    assert page.status_code == 200
    html = page.text
    for chart in ("kpi-trend", "kpi-base", "kpi-ranking", "kpi-treemap"):
        assert f'id="{chart}"' in html
    assert 'data-kpi="churn_rate"' in html
    assert 'href="/analysis/kpi?unit=C1&amp;months=12"' in html
    assert 'id="no-yoy"' in html  # the tiny cube has no year-earlier month
    data = _chart_data(html)
    children = data["children"]
    assert isinstance(children, list)
    assert [c["id"] for c in children] == ["C1", "C2", "KAC"]
    fragment = client.get("/analysis/kpi?unit=C1&months=all", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'aria-current="page" data-unit="C1"' in fragment.text
    assert client.get("/analysis/kpi?months=0").status_code == 422
