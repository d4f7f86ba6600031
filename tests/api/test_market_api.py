"""Market inputs over HTTP and in the console: rights, scope, imports, the market view."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests._factories.auth_client import AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.warehouse import FactoryWarehouse

MONTH = "2025-02-01"  # the sample province's last month (14 months from 2024-01)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("market"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    yield from province_app(tmp_path, db, warehouse)


def offer_body(
    org_code: str | None, name: str = "天翼畅享129", fee: int = 12_900
) -> dict[str, object]:
    return {
        "org_code": org_code,
        "competitor": "china_telecom",
        "name": name,
        "monthly_fee_fen": fee,
        "data_mb": 40_960,
        "voice_min": 500,
        "is_5g": True,
        "launched_on": "2024-06-01",
    }


def test_rights_and_scope(app: AuthApp) -> None:
    client = app.client
    assert client.get("/api/market/offers").status_code == 401
    app.login("agent")  # no aggregate reads
    assert client.get("/api/market/offers").status_code == 403
    csrf = app.login("approver")  # reads, does not change
    assert client.get("/api/market/offers").status_code == 200
    headers = {"X-CSRF-Token": csrf}
    denied = client.post("/api/market/offers", json=offer_body("C01"), headers=headers)
    assert denied.status_code == 403

    csrf = app.login("suzhou")
    headers = {"X-CSRF-Token": csrf}
    suzhou = client.post("/api/market/offers", json=offer_body("C02", "苏州专享"), headers=headers)
    assert suzhou.status_code == 201, suzhou.text
    csrf = app.login("nanjing")
    headers = {"X-CSRF-Token": csrf}
    assert (
        client.post("/api/market/offers", json=offer_body("C02"), headers=headers).status_code
        == 404
    )
    assert client.get(f"/api/market/offers/{suzhou.json()['id']}").status_code == 404
    assert (
        client.delete(f"/api/market/offers/{suzhou.json()['id']}", headers=headers).status_code
        == 404
    )
    assert client.get("/api/market/offers", params={"city": "C02"}).status_code == 404
    wide = client.post("/api/market/offers", json=offer_body(None), headers=headers)
    assert wide.status_code == 403  # province-wide offers are entered at the province

    csrf = app.login("planner")
    wide = client.post(
        "/api/market/offers",
        json=offer_body(None, "全省冰激凌", 9_900),
        headers={"X-CSRF-Token": csrf},
    )
    assert wide.status_code == 201
    app.login("nanjing")
    names = [o["name"] for o in client.get("/api/market/offers").json()]
    assert names == ["全省冰激凌"]  # Suzhou's offer stays invisible


def test_shares_over_100_percent_are_refused_and_the_view_derives_own_share(app: AuthApp) -> None:
    csrf = app.login("nanjing")
    headers = {"X-CSRF-Token": csrf}
    post = app.client.post
    share = {"org_code": "C01", "month": MONTH, "competitor": "china_unicom", "share_bp": 7000}
    assert post("/api/market/shares", json=share, headers=headers).status_code == 201
    over = {**share, "competitor": "china_telecom", "share_bp": 3500}
    refused = post("/api/market/shares", json=over, headers=headers)
    assert refused.status_code == 422
    assert "105.00%" in refused.json()["message"]

    # Estimates for the month before: our share = own subscribers / (own + estimates).
    earlier = "2025-01-01"
    for competitor, count in (("china_unicom", 300), ("china_telecom", 100)):
        body = {"org_code": "C01", "month": earlier, "competitor": competitor, "subscribers": count}
        assert post("/api/market/shares", json=body, headers=headers).status_code == 201
    overview = app.client.get("/api/analysis/overview").json()
    (nanjing,) = [c for c in overview["cities"] if c["city_id"] == "C01"]
    own = {m["month"]: m["subscribers"] for m in nanjing["months"]}[earlier]
    post("/api/market/offers", json=offer_body("C01"), headers=headers)

    view = app.client.get("/api/market/view", params={"as_of": "2025-02-15"}).json()
    assert view["city_code"] == "C01"  # a city user's default is their own city
    series = {s["competitor"]: s["points"] for s in view["shares"]}
    size = own + 400
    assert view["market_size"] == {earlier: size}
    assert series["own"][0]["share_bp"] == round(own * 10_000 / size)
    assert series["china_unicom"] == [
        {"month": earlier, "share_bp": round(300 * 10_000 / size), "subscribers": 300},
        {"month": MONTH, "share_bp": 7000, "subscribers": None},
    ]
    assert series["own"][1]["share_bp"] is None  # entered as shares: no own share invented
    (row,) = view["offers"]
    assert row["comparable"]["product_id"] == "PL5G128"
    assert row["fee_difference_fen"] == 12_900 - 12_800
    assert view["own_kpis"][-1]["subscribers"] == nanjing["months"][-1]["subscribers"]


def test_an_import_with_a_bad_row_names_it_and_imports_nothing(app: AuthApp) -> None:
    csrf = app.login("nanjing")
    text = (
        "org_code,month,competitor,share_bp\n"
        "C01,2025-02,china_unicom,3000\n"
        "C01,2025-02,china_telecom,lots\n"
    )
    response = app.client.post(
        "/api/market/shares/import",
        files={"file": ("shares.csv", text.encode("gbk"), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422
    (problem,) = response.json()["details"]
    assert (problem["file"], problem["row"], problem["column"]) == ("shares.csv", 3, "share_bp")
    assert app.client.get("/api/market/shares").json() == []
    good = text.replace("lots", "2000")
    response = app.client.post(
        "/api/market/shares/import",
        files={"file": ("shares.csv", good.encode("gbk"), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.json()["added"] == 2


def test_the_market_page_shows_trend_offers_and_own_kpis(app: AuthApp) -> None:
    csrf = app.login("nanjing")
    page = app.client.get("/market", params={"lang": "en"})
    assert page.status_code == 200
    assert "No market share entered for this city yet." in page.text
    form = {
        "csrf_token": csrf,
        "org_code": "C01",
        "competitor": "china_unicom",
        "name": "冰激凌99",
        "monthly_fee_yuan": "99",
        "is_5g": "1",
        "launched_on": "2024-03-01",
    }
    added = app.client.post("/market/offers", data=form, follow_redirects=False)
    assert added.status_code == 303
    shares = {"csrf_token": csrf, "org_code": "C01", "month": "2025-02", "competitor": "other"}
    assert (
        app.client.post("/market/shares", data={**shares, "share_pct": "12.5"}).status_code == 200
    )
    too_much = app.client.post(
        "/market/shares", data={**shares, "competitor": "china_telecom", "share_pct": "90"}
    )
    assert too_much.status_code == 422
    assert "102.50%" in too_much.text
    page = app.client.get("/market", params={"lang": "en"})
    assert "冰激凌99" in page.text
    assert "PL5G128" in page.text
    found = re.search(r'id="market-data">(.*?)</script>', page.text, re.S)
    assert found is not None
    data = json.loads(found.group(1))
    assert data["series"] == [{"key": "other", "name": "Other", "own": False, "data": [12.5]}]
    assert 'data-kpi="subscribers"' in page.text
    # Nanjing's page names no other city, and a district user sees Nanjing's inputs.
    assert "苏州" not in page.text
    assert "Suzhou" not in page.text
    app.login("nanjing.district")
    assert "冰激凌99" in app.client.get("/market").text
