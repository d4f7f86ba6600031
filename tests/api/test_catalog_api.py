"""The catalog over HTTP and in the console: rights, versions, prices on a day, the editor."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.permissions import Role
from telmark.catalog.service import province_today
from telmark.uow import UnitOfWork
from tests._factories.auth import make_user
from tests._factories.auth_client import AuthApp
from tests._factories.catalog import order_row
from tests._factories.market import province_app, sample_warehouse
from tests._factories.warehouse import (
    FactoryWarehouse,
    contract_table,
    sample_tables,
    write_warehouse,
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("catalog"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    yield from province_app(tmp_path, db, warehouse)


def _broadband(code: str = "BB300", fee: int = 6_000) -> dict[str, object]:
    return {
        "code": code,
        "name": "家庭宽带300M",
        "kind": "broadband",
        "family": "broadband",
        "version": {"valid_from": "2025-01-01", "monthly_fee_fen": fee, "speed_mbps": 300},
    }


def _plan_terms() -> dict[str, object]:
    return {"monthly_fee_fen": 7_900, "data_mb": 40_960, "voice_min": 300, "is_5g": True}


def _plan() -> dict[str, object]:
    return {
        "code": "PL5G079",
        "name": "5G畅享套餐79元",
        "kind": "plan",
        "family": "5g_plan",
        "payment_type": "postpaid",
        "version": {"valid_from": "2026-09-01", **_plan_terms()},
    }


def _bundle(shares: tuple[int, int]) -> dict[str, object]:
    return {
        "code": "BD129",
        "name": "全家享融合套餐129元",
        "kind": "bundle",
        "family": "converged",
        "payment_type": "postpaid",
        "version": {
            "valid_from": "2025-01-01",
            "monthly_fee_fen": 12_900,
            "data_mb": 40_960,
            "voice_min": 500,
            "is_5g": True,
            "speed_mbps": 300,
            "components": [
                {"code": "PL5G128", "fee_share_fen": shares[0]},
                {"code": "BB300", "fee_share_fen": shares[1]},
            ],
        },
    }


def test_readers_read_and_only_province_planners_change(app: AuthApp) -> None:
    client = app.client
    assert client.get("/api/catalog/products").status_code == 401
    app.login("agent")  # no aggregate reads
    assert client.get("/api/catalog/products").status_code == 403

    csrf = app.login("planner")
    headers = {"X-CSRF-Token": csrf}
    synced = client.post("/api/catalog/sync", headers=headers)
    assert synced.json() == {"created": ["PL5G128"], "existing": 0}
    assert client.post("/api/catalog/sync", headers=headers).json() == {
        "created": [],
        "existing": 1,
    }
    assert (
        client.post("/api/catalog/products", json=_broadband(), headers=headers).status_code == 201
    )

    for reader in ("approver", "nanjing"):
        csrf = app.login(reader)
        headers = {"X-CSRF-Token": csrf}
        listed = client.get("/api/catalog/products", params={"kind": "broadband"})
        assert [p["code"] for p in listed.json()] == ["BB300"], reader
        assert client.get("/api/catalog/products/BB300").json()["versions"][0]["speed_mbps"] == 300
        assert client.get("/api/catalog/products/BB300/price").json()["monthly_fee_fen"] == 6_000
        refused = [
            client.post("/api/catalog/products", json=_broadband("BB500"), headers=headers),
            client.post(
                "/api/catalog/products/BB300/versions",
                json={"monthly_fee_fen": 1, "speed_mbps": 300},
                headers=headers,
            ),
            client.post("/api/catalog/products/BB300/retire", headers=headers),
            client.post("/api/catalog/sync", headers=headers),
        ]
        assert [r.status_code for r in refused] == [403] * 4, reader
    app.login("planner")
    assert [
        v["monthly_fee_fen"] for v in client.get("/api/catalog/products/BB300").json()["versions"]
    ] == [6_000]


def test_price_versions_over_the_api(app: AuthApp) -> None:
    client = app.client
    headers = {"X-CSRF-Token": app.login("planner")}
    client.post("/api/catalog/sync", headers=headers)
    client.post("/api/catalog/products", json=_broadband(), headers=headers)

    bad = client.post("/api/catalog/products", json=_bundle((8_900, 3_000)), headers=headers)
    assert bad.status_code == 422
    assert bad.json()["details"] == [
        {
            "field": "components",
            "reason": "the components' fee shares add up to 11900 fen, not the fee 12900",
        }
    ]
    made = client.post("/api/catalog/products", json=_bundle((8_900, 4_000)), headers=headers)
    assert made.status_code == 201, made.text
    assert [c["name"] for c in made.json()["current"]["components"]] == [
        "5G畅享128元套餐",
        "家庭宽带300M",
    ]

    today = province_today()
    yesterday = (today - timedelta(days=1)).isoformat()
    past = client.post(
        "/api/catalog/products/BB300/versions",
        json={"valid_from": yesterday, "monthly_fee_fen": 5_000, "speed_mbps": 500},
        headers=headers,
    )
    assert past.status_code == 422
    assert past.json()["details"][0]["field"] == "valid_from"
    changed = client.post(
        "/api/catalog/products/BB300/versions",
        json={"monthly_fee_fen": 5_000, "speed_mbps": 500, "note": "提速降费"},
        headers=headers,
    )
    assert changed.status_code == 201, changed.text
    assert [(v["version"], v["valid_until"]) for v in changed.json()["versions"]] == [
        (1, today.isoformat()),
        (2, None),
    ]
    before = client.get("/api/catalog/products/BB300/price", params={"on": yesterday}).json()
    assert (before["version"], before["monthly_fee_fen"]) == (1, 6_000)
    assert client.get("/api/catalog/products/BB300/price").json()["monthly_fee_fen"] == 5_000
    early = client.get("/api/catalog/products/BB300/price", params={"on": "2024-12-31"})
    assert early.status_code == 404

    assert (
        client.post("/api/catalog/products/BB300/retire", headers=headers).json()["status"]
        == "retired"
    )
    again = client.post(
        "/api/catalog/products/BB300/versions",
        json={"monthly_fee_fen": 4_000, "speed_mbps": 500, "valid_from": "2099-01-01"},
        headers=headers,
    )
    assert again.status_code == 409
    retired = client.get("/api/catalog/products", params={"status": "retired"}).json()
    assert [p["code"] for p in retired] == ["BB300"]
    assert client.get("/api/catalog/products/NOPE").status_code == 404


@pytest.fixture
def orders_app(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[AuthApp]:
    # The sample province plus two orders of last month, credited to outlets of two cities.
    placed = datetime(2026, 10, 14, 3, 0, tzinfo=UTC)
    orders = [
        order_row(501, "PL5G079", placed),
        {**order_row(502, "PL5G079", placed), "org_id": "C02D1O1"},
    ]
    tables = {
        **sample_tables(subscribers=300, months=2, seed=5),
        "orders": contract_table("orders", orders),
    }
    built = write_warehouse(tmp_path / "orders.duckdb", tables)
    yield from province_app(tmp_path, db, built)


def test_an_orders_price_in_the_callers_scope(orders_app: AuthApp) -> None:
    app = orders_app
    client = app.client
    headers = {"X-CSRF-Token": app.login("planner")}
    made = client.post("/api/catalog/products", json=_plan(), headers=headers)
    assert made.status_code == 201, made.text
    changed = client.post(
        "/api/catalog/products/PL5G079/versions", json={**_plan_terms(), "monthly_fee_fen": 6_900},
        headers=headers,
    )  # fmt: skip
    assert changed.status_code == 201, changed.text

    app.login("nanjing")
    price = client.get("/api/catalog/orders/501/price")
    assert price.status_code == 200, price.text
    # Last month's order keeps last month's fee after the edit.
    assert (price.json()["ordered_on"], price.json()["monthly_fee_fen"]) == ("2026-10-14", 7_900)
    # Another city's order: the same answer as one that does not exist.
    assert client.get("/api/catalog/orders/502/price").status_code == 404
    assert client.get("/api/catalog/orders/999/price").status_code == 404
    app.login("suzhou")
    assert client.get("/api/catalog/orders/502/price").json()["monthly_fee_fen"] == 7_900


def test_console_browser_product_page_and_editor(app: AuthApp) -> None:
    client = app.client
    csrf = app.login("planner")
    headers = {"X-CSRF-Token": csrf}
    client.post("/api/catalog/sync", headers=headers)
    client.post("/api/catalog/products", json=_broadband(), headers=headers)
    client.post("/api/catalog/products", json=_bundle((8_900, 4_000)), headers=headers)

    page = client.get("/catalog", params={"kind": "bundle"})
    assert page.status_code == 200
    assert "融合套餐" in page.text
    assert 'data-product="BD129"' in page.text
    assert 'data-product="BB300"' not in page.text

    product = client.get("/catalog/BD129")
    assert 'id="version-form"' in product.text
    assert 'id="price-timeline"' in product.text
    # The editor starts from the latest terms: the components are prefilled.
    assert 'name="component_code_1" value="BB300"' in product.text

    form = {
        "csrf_token": csrf,
        "fee_yuan": "119",
        "data_mb": "40960",
        "voice_min": "500",
        "is_5g": "1",
        "speed_mbps": "300",
        "component_code_0": "PL5G128",
        "component_share_yuan_0": "89",
        "component_code_1": "BB300",
        "component_share_yuan_1": "abc",
    }
    refused = client.post("/catalog/BD129/versions", data=form)
    assert refused.status_code == 422
    assert 'data-field-error="components[1].fee_share_fen"' in refused.text
    assert 'name="component_share_yuan_1" value="abc"' in refused.text  # the input is kept
    form["component_share_yuan_1"] = "40"
    refused = client.post("/catalog/BD129/versions", data=form)
    assert refused.status_code == 422
    # 89 + 40 yuan of shares is not the fee of 119 yuan: said beside the components.
    beside = re.search(r'data-field-error="components">([^<]*)<', refused.text)
    assert beside is not None
    assert "12900" in beside.group(1)
    assert "11900" in beside.group(1)
    form["component_share_yuan_1"] = "30"
    saved = client.post("/catalog/BD129/versions", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    history = client.get("/api/catalog/products/BD129").json()["versions"]
    assert [(v["version"], v["monthly_fee_fen"]) for v in history] == [(1, 12_900), (2, 11_900)]

    english = client.get("/catalog/BD129", params={"lang": "en"})
    assert "Price timeline" in english.text
    assert "Converged bundle" in english.text

    app.login("approver")
    read_only = client.get("/catalog/BD129")
    assert read_only.status_code == 200
    assert 'id="version-form"' not in read_only.text
    assert 'data-version="2"' in read_only.text


def test_console_new_product_form_and_sync_button(app: AuthApp) -> None:
    client = app.client
    csrf = app.login("planner")
    listing = client.get("/catalog")
    assert 'id="new-product"' in listing.text
    assert 'id="sync-form"' in listing.text
    synced = client.post("/catalog/sync", data={"csrf_token": csrf})
    assert synced.status_code == 200  # followed to the list, which says what it added
    added = re.search(r"(\d+) 个产品已从数据仓库加入", synced.text)
    assert added is not None, synced.text
    assert int(added.group(1)) > 0
    again = client.post("/catalog/sync", data={"csrf_token": csrf})
    assert "0 个产品已从数据仓库加入" in again.text

    page = client.get("/catalog/new", params={"kind": "handset_contract"})
    assert 'id="handset-fields"' in page.text
    assert 'id="component-fields"' not in page.text
    form = {
        "csrf_token": csrf,
        "kind": "handset_contract",
        "code": "HS-X1",
        "name": "合约机X1",
        "family": "handset",
        "payment_type": "postpaid",
        "valid_from": "2026-01-01",
        "fee_yuan": "99",
        "device_model": "X1",
        "device_price_yuan": "3999",
        "subsidy_yuan": "5000",
        "lock_in_months": "24",
        "min_spend_yuan": "99",
    }
    refused = client.post("/catalog/new", data=form)
    assert refused.status_code == 422
    assert 'data-field-error="subsidy_fen"' in refused.text
    assert 'name="code" value="HS-X1"' in refused.text  # the input is kept
    assert client.get("/api/catalog/products/HS-X1").status_code == 404  # nothing saved
    form["subsidy_yuan"] = "1200"
    saved = client.post("/catalog/new", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    made = client.get("/api/catalog/products/HS-X1").json()
    assert made["current"]["handset"]["subsidy_fen"] == 120_000
    assert made["versions"][0]["valid_from"] == "2026-01-01"
    twice = client.post("/catalog/new", data=form)
    assert twice.status_code == 422
    assert 'data-field-error="code"' in twice.text

    app.login("approver")  # reads the catalog, may not change it
    assert 'id="new-product"' not in client.get("/catalog").text
    assert client.get("/catalog/new").status_code == 403
    assert client.post("/catalog/new", data=form).status_code == 403


def test_a_planner_of_a_city_reads_but_cannot_change_the_province_catalog(
    app: AuthApp, db: sessionmaker[Session]
) -> None:
    with UnitOfWork(db) as uow:
        make_user(uow, "nj.planner", org="C01", roles=[Role.MARKETING_PLANNER])
    headers = {"X-CSRF-Token": app.login("nj.planner")}
    client = app.client
    assert client.get("/api/catalog/products").status_code == 200
    refused = client.post("/api/catalog/products", json=_broadband(), headers=headers)
    assert refused.status_code == 403
    assert "province" in refused.json()["message"]
    assert client.get("/catalog").status_code == 200
    assert client.get("/api/catalog/products").json() == []
