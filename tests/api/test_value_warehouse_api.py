"""Customer value through HTTP: refresh (province analysts), summary and cohorts in scope, pages."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as

PROVINCE = ("P32", "/P32/")
NANJING = ("C01", "/P32/C01/")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("value-api")
    generate_province(
        out_dir=root / "p", subscribers=1_500, months=3, seed=3, end_month=date(2026, 6, 1)
    )
    con = connect("duckdb://" + str(root / "w.duckdb"))
    load_directory(con=con, directory=root / "p")
    con.disconnect()
    return root / "w.duckdb"


def _app(tmp_path: Path, loaded: Path, *, at: tuple[str, str], roles: tuple[Role, ...]) -> FastAPI:
    # Each test gets its own copy: refreshing writes the warehouse.
    copy = tmp_path / "w.duckdb"
    if not copy.exists():
        shutil.copy(loaded, copy)
    app = create_app(Settings(data_dir=tmp_path / "data", warehouse_url=f"duckdb://{copy}"))
    name = "南京市" if at == NANJING else ""
    sign_in_as(app, principal_at(at[0], at[1], roles=roles, org_name=name))
    return app


@pytest.fixture
def province(tmp_path: Path, loaded: Path) -> Iterator[TestClient]:
    with TestClient(_app(tmp_path, loaded, at=PROVINCE, roles=(Role.ANALYST,))) as client:
        yield client


def _chart_data(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="value-data">(.*?)</script>', html)
    assert match, "the page has no chart data block"
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_a_province_analyst_refreshes_and_everyone_reads_in_scope(
    tmp_path: Path, loaded: Path, province: TestClient
) -> None:
    before = province.get("/api/analysis/value/summary")
    assert before.status_code == 409
    assert "value refresh" in before.json()["message"]
    page = province.get("/analysis/value?lang=en")
    assert page.status_code == 200
    assert "telmark analysis value refresh" in page.text
    assert 'id="value-data"' not in page.text  # no numbers before the table exists

    refreshed = province.post("/api/analysis/value/refresh", json={"half_life_months": 2})
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["subscribers"] == 1_500
    assert body["half_life_months"] == 2
    assert sum(t["subscribers"] for t in body["tiers"]) == 1_500
    assert body["sbg"] is not None
    assert body["recharge_model"] is not None

    summary = province.get("/api/analysis/value/summary").json()
    assert summary["subscribers"] == 1_500
    assert {u["org_id"] for u in summary["units"]} >= {"C01", "C02"}

    page = province.get("/analysis/value?lang=en")
    assert page.status_code == 200
    for chart in ("chart-tiers", "chart-units", "chart-decay", "chart-clv", "chart-cohorts"):
        assert f'id="{chart}"' in page.text
    data = _chart_data(page.text)
    tiers = data["tiers"]
    assert isinstance(tiers, list)
    assert sum(t["lines"] for t in tiers) == 1_500
    assert [t["name"] for t in tiers] == ["VIP", "Gold", "Star", "Non-member"]

    # A Nanjing user of the same warehouse sees Nanjing only.
    with TestClient(_app(tmp_path, loaded, at=NANJING, roles=tuple(Role))) as city:
        mine = city.get("/api/analysis/value/summary").json()
        assert 0 < mine["subscribers"] < 1_500
        assert all(u["org_id"].startswith("C01") for u in mine["units"])
        page = city.get("/analysis/value?lang=en")
        assert page.status_code == 200
        assert "无锡" not in page.text
        assert "C02" not in page.text
        assert "Recompute" not in page.text  # may not rebuild the province's table
        cohorts = city.get("/api/analysis/retention/cohorts?cohort_months=6")
        assert cohorts.status_code == 200
        whole = province.get("/api/analysis/retention/cohorts?cohort_months=6").json()
        lines = sum(c["survivors"][0] for c in cohorts.json()["cohorts"])
        assert lines <= sum(c["survivors"][0] for c in whole["cohorts"])


def test_only_province_users_with_analysis_rights_may_refresh(tmp_path: Path, loaded: Path) -> None:
    with TestClient(_app(tmp_path, loaded, at=NANJING, roles=tuple(Role))) as city:
        refused = city.post("/api/analysis/value/refresh", json={})
        assert refused.status_code == 403
        assert "province" in refused.json()["message"]
    with TestClient(_app(tmp_path, loaded, at=PROVINCE, roles=(Role.APPROVER,))) as approver:
        assert approver.post("/api/analysis/value/refresh", json={}).status_code == 403
        # Reading is allowed (OVERVIEW_READ), and nothing was built by the refused calls.
        assert approver.get("/api/analysis/value/summary").status_code == 409


def test_bad_refresh_options_are_named(province: TestClient) -> None:
    response = province.post("/api/analysis/value/refresh", json={"horizon": 0})
    assert response.status_code == 422
    assert "horizon" in response.text


def test_cohorts_reproduce_the_cli_numbers(province: TestClient) -> None:
    response = province.get("/api/analysis/retention/cohorts", params={"cohort_months": 3})
    assert response.status_code == 200
    body = response.json()
    assert len(body["cohorts"]) == 3
    assert body["as_of_month"] == "2026-06-01"
    assert body["pooled"]["alpha"] > 0
    for cohort in body["cohorts"]:
        assert cohort["observed_retention"][0] == 1.0
        assert len(cohort["pooled_retention"]) == len(cohort["survivors"])
    assert province.get("/api/analysis/retention/cohorts?cohort_months=0").status_code == 422


def test_the_fits_page_has_both_forms(province: TestClient) -> None:
    page = province.get("/analysis/fits?lang=en")
    assert page.status_code == 200
    assert 'data-fit="retention"' in page.text
    assert 'data-fit="clv"' in page.text
    assert "Value model fits" in page.text
