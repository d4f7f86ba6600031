"""Offers over HTTP: rights (manage, read, redeem), province-only changes, redemption in scope,
idempotency keys, pools and draw replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.uow import UnitOfWork
from tests._factories.auth_client import AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.offers import add_products, gift, lottery, offer_doc
from tests._factories.warehouse import FactoryWarehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("offers"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    with UnitOfWork(db) as uow:
        add_products(uow.session)
        uow.commit()
    yield from province_app(tmp_path, db, warehouse)


def _subscriber(warehouse: FactoryWarehouse, prefix: str) -> int:
    rows = warehouse.tables["subscribers"].select(["subscriber_id", "org_id", "status"]).to_pylist()
    # An active line: the offers here are for working lines (win-back aside).
    found = [
        r["subscriber_id"]
        for r in rows
        if str(r["org_id"]).startswith(prefix) and r["status"] == "active"
    ]
    assert found, f"the sample province has no line under {prefix}"
    return int(found[0])


def _post(app: AuthApp, path: str, csrf: str, body: Any = None, **headers: str) -> Any:
    return app.client.post(path, json=body, headers={"X-CSRF-Token": csrf, **headers})


def test_rights_to_read_and_change_the_book(app: AuthApp) -> None:
    client = app.client
    assert client.get("/api/offers").status_code == 401
    app.login("agent")  # serves customers; no aggregate reads
    assert client.get("/api/offers").status_code == 403
    csrf = app.login("approver")  # reads the book, changes nothing
    assert client.get("/api/offers").json() == []
    assert _post(app, "/api/offers", csrf, offer_doc("A")).status_code == 403
    csrf = app.login("nanjing")  # a city manager: no offers:manage
    assert _post(app, "/api/offers", csrf, offer_doc("A")).status_code == 403

    csrf = app.login("planner")
    created = _post(app, "/api/offers", csrf, offer_doc("A"))
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    assert created.json()["economics"]["payback_months"] == 2  # 2000 / 1800 a month
    bad = _post(app, "/api/offers", csrf, offer_doc("B", product_codes=["NOPE"]))
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == "product_codes[0]"
    assert _post(app, "/api/offers", csrf, offer_doc("A")).status_code == 409

    edited = client.put(
        "/api/offers/A", json=offer_doc("A", gift(50)), headers={"X-CSRF-Token": csrf}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert [v["version"] for v in client.get("/api/offers/A/versions").json()] == [1, 2]
    assert _post(app, "/api/offers/A/activate", csrf).json()["status"] == "active"
    assert _post(app, "/api/offers/A/activate", csrf).status_code == 409
    pools = client.get("/api/offers/A/pools").json()
    assert [(p["key"], p["total"], p["remaining"]) for p in pools] == [("gift", 50, 50)]
    assert client.get("/api/offers/A/economics").json()["incentive_cost_fen"] == 2_000
    preview = _post(app, "/api/offers/economics", csrf, offer_doc("Z", gift(1, 9_000)))
    assert preview.json()["incentive_cost_fen"] == 9_000
    assert client.get("/api/offers/Z").status_code == 404  # a preview saves nothing
    assert _post(app, "/api/offers/A/retire", csrf).json()["status"] == "retired"

    app.login("approver")
    assert [o["code"] for o in client.get("/api/offers").json()] == ["A"]
    assert client.get("/api/offers", params={"status": "draft"}).json() == []


def test_redeem_in_scope_with_idempotency_keys(app: AuthApp, warehouse: FactoryWarehouse) -> None:
    client = app.client
    csrf = app.login("planner")
    doc = offer_doc("L", gift(5), lottery(("phone", 1_000_000, 100, 1), budget_fen=1_000))
    assert _post(app, "/api/offers", csrf, doc).status_code == 201
    assert _post(app, "/api/offers/L/activate", csrf).status_code == 200

    outlet_line = _subscriber(warehouse, "C01D1O1")
    suzhou_line = _subscriber(warehouse, "C02")
    csrf = app.login("agent")  # front line at outlet C01D1O1
    assert (
        _post(app, "/api/offers/L/redeem", csrf, {"subscriber_id": outlet_line}).status_code == 422
    )
    first = _post(
        app,
        "/api/offers/L/redeem",
        csrf,
        {"subscriber_id": outlet_line},
        **{"Idempotency-Key": "r-1"},
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["draw"]["outcome"] == "phone"
    again = _post(
        app,
        "/api/offers/L/redeem",
        csrf,
        {"subscriber_id": outlet_line},
        **{"Idempotency-Key": "r-1"},
    )
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    not_referral = _post(
        app,
        "/api/offers/L/redeem",
        csrf,
        {"subscriber_id": outlet_line, "referrer_id": suzhou_line},
        **{"Idempotency-Key": "r-9"},
    )
    assert not_referral.status_code == 422
    assert not_referral.json()["details"] == [{"field": "referrer_id"}]
    outside = _post(
        app,
        "/api/offers/L/redeem",
        csrf,
        {"subscriber_id": suzhou_line},
        **{"Idempotency-Key": "r-2"},
    )
    assert outside.status_code == 404  # not in the agent's scope, as if it did not exist
    assert client.get(f"/api/redemptions/{body['id']}").status_code == 200
    replay = client.get(f"/api/draws/{body['draw']['id']}/replay").json()
    assert replay["matches"] is True
    assert replay["outcome"] == "phone"
    assert client.get(f"/api/draws/{body['draw']['id']}").json()["seed"] == body["draw"]["seed"]

    # Suzhou's manager cannot see, replay, consume or release Nanjing's redemption.
    csrf = app.login("suzhou")
    assert client.get(f"/api/redemptions/{body['id']}").status_code == 404
    assert client.get(f"/api/draws/{body['draw']['id']}/replay").status_code == 404
    assert _post(app, f"/api/redemptions/{body['id']}/consume", csrf).status_code == 404
    released = _post(app, f"/api/redemptions/{body['id']}/release", csrf, {"reason": "取消"})
    assert released.status_code == 404
    second = _post(
        app,
        "/api/offers/L/redeem",
        csrf,
        {"subscriber_id": suzhou_line},
        **{"Idempotency-Key": "r-3"},
    )
    assert second.status_code == 201, second.text
    assert second.json()["draw"]["outcome"] == "no_prize"  # the one phone is gone

    csrf = app.login("nanjing")
    released = _post(
        app, f"/api/redemptions/{body['id']}/release", csrf, {"reason": "客户取消订单"}
    )
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    app.login("approver")  # reads aggregates, does not redeem
    assert client.get(f"/api/redemptions/{body['id']}").status_code == 403
    pools = {p["key"]: p for p in client.get("/api/offers/L/pools").json()}
    assert pools["gift"]["remaining"] == 4  # one of five still held by the Suzhou line
    assert pools["prize:phone"]["remaining"] == 1  # the release returned the phone
