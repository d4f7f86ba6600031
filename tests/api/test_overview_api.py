"""The province overview through HTTP: the JSON API and the console page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from telmark.analysis.schemas import OverviewRead
from telmark.analysis.service import province_overview
from telmark.config import Settings
from telmark.warehouse.connection import connect
from telmark.web.app import create_app
from tests._factories.auth import principal_at, province_app, sign_in_as
from tests._factories.warehouse import (
    FactoryWarehouse,
    build_empty_warehouse,
    build_tiny_warehouse,
)

CHART_IDS = ("chart-subscribers", "chart-arpu", "chart-churn", "chart-revenue")


@pytest.fixture
def tiny(tmp_path: Path) -> FactoryWarehouse:
    return build_tiny_warehouse(tmp_path)


@pytest.fixture
def client(tmp_path: Path, tiny: FactoryWarehouse) -> Iterator[TestClient]:
    app = province_app(Settings(data_dir=tmp_path / "data", warehouse_url=tiny.url))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def empty_client(tmp_path: Path) -> Iterator[TestClient]:
    url = build_empty_warehouse(tmp_path / "empty").url
    with TestClient(province_app(Settings(data_dir=tmp_path / "data", warehouse_url=url))) as c:
        yield c


def _chart_data(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="overview-data">(.*?)</script>', html)
    assert match, "the page has no chart data block"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def _card(html: str, key: str) -> str:
    match = re.search(rf'data-kpi="{key}">(.*?)</article>', html, re.S)
    assert match, f"no KPI card {key}"
    return match.group(1)


# --- JSON ------------------------------------------------------------------------------


def test_overview_json_is_the_service_result(client: TestClient, tiny: FactoryWarehouse) -> None:
    response = client.get("/api/analysis/overview")
    assert response.status_code == 200
    con = connect(tiny.url)
    try:
        expected = province_overview(con=con)
    finally:
        con.disconnect()
    assert OverviewRead.model_validate(response.json()) == expected
    body = response.json()
    assert body["months"] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert body["cities"][0]["months"][0]["arpu_fen"] == 3517
    assert body["province"][0]["churn_rate"] == pytest.approx(1 / 8)


def test_overview_months_parameter(client: TestClient) -> None:
    body = client.get("/api/analysis/overview", params={"months": 1}).json()
    assert body["months"] == ["2024-03-01"]
    assert body["province"][0]["opening_subscribers"] == 3 + 3 + 1  # February's closing base
    assert client.get("/api/analysis/overview", params={"months": 0}).status_code == 422


def test_overview_of_an_empty_warehouse_is_a_409_with_guidance(empty_client: TestClient) -> None:
    response = empty_client.get("/api/analysis/overview")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "warehouse_empty"
    assert "telmark demo" in body["message"]
    assert {"table": "subscribers", "reason": "missing"} in body["details"]


# --- console page ------------------------------------------------------------------------


def test_overview_page_has_cards_charts_and_their_data(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="zh-CN">' in html
    assert "全省经营概览" in html
    for chart_id in CHART_IDS:
        assert f'id="{chart_id}"' in html
    # March: Nanjing 3 + Suzhou 2 + the key-account line = 6 lines; churn 1 / (3 + 3 + 1).
    assert ">6<" in _card(html, "subscribers")
    assert "14.29%" in _card(html, "churn")
    assert "-14.3%" in _card(html, "subscribers")  # 7 → 6 lines
    data = _chart_data(html)
    assert data["months"] == ["2024-01", "2024-02", "2024-03"]
    assert data["monthLabels"] == ["2024年1月", "2024年2月", "2024年3月"]
    cities = data["cities"]
    assert isinstance(cities, list)
    assert [c["name"] for c in cities] == ["南京", "苏州"]
    assert cities[0]["subscribers"] == [4, 3, 3]
    assert cities[1]["arpuYuan"][0] == 90.01
    assert cities[1]["churnPct"][2] == pytest.approx(100 / 3, abs=1e-3)


def test_overview_page_loads_only_local_scripts(client: TestClient) -> None:
    html = client.get("/").text
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert any("vendor/echarts/echarts.min.js" in s for s in sources)
    assert any("vendor/htmx/htmx.min.js" in s for s in sources)
    assert all(s.startswith("/") for s in sources), sources


def test_htmx_period_switch_returns_only_the_fragment(client: TestClient) -> None:
    response = client.get("/", params={"months": 6}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "HX-Request" in response.headers["vary"]
    active = re.findall(r'class="active" aria-current="true">([^<]+)</a>', response.text)
    assert active == ["近6个月"]
    two = client.get("/", params={"months": 2}, headers={"HX-Request": "true"})
    assert _chart_data(two.text)["months"] == ["2024-02", "2024-03"]


def test_overview_page_of_an_empty_warehouse_says_how_to_load_data(
    empty_client: TestClient,
) -> None:
    response = empty_client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "数据仓库中还没有用户数据" in html
    assert "telmark data generate --load" in html
    assert "telmark demo" in html
    assert 'id="chart-subscribers"' not in html
    assert "overview-data" not in html


def test_invalid_months_on_the_page_is_an_error_page(client: TestClient) -> None:
    response = client.get("/", params={"months": 0})
    assert response.status_code == 422
    assert "请求无效" in response.text
    assert "months must be at least 1" in response.text


def test_a_city_user_sees_an_overview_of_their_city(tmp_path: Path, tiny: FactoryWarehouse) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data", warehouse_url=tiny.url))
    sign_in_as(app, principal_at("C1", "/P/C1/", org_name="南京"))
    with TestClient(app) as client:
        page = client.get("/")
        data = client.get("/api/analysis/overview").json()
    assert "<h1>经营概览 · 南京</h1>" in page.text
    assert _chart_data(page.text)["labels"]["province"] == "南京"  # type: ignore[index]
    assert [c["city_id"] for c in data["cities"]] == ["C1"]
