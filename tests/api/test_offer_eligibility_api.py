"""The eligibility explainer over HTTP: who may ask, org scope (404 alike), masking, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.uow import UnitOfWork
from tests._factories.auth_client import AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.offers import add_products, offer_doc
from tests._factories.warehouse import FactoryWarehouse

PATH = "/api/offers/eligibility"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("eligibility"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    with UnitOfWork(db) as uow:
        add_products(uow.session)
        uow.commit()
    yield from province_app(tmp_path, db, warehouse)


def _line(warehouse: FactoryWarehouse, prefix: str) -> dict[str, Any]:
    rows = warehouse.tables["subscribers"].select(["subscriber_id", "msisdn", "org_id"]).to_pylist()
    found: list[dict[str, Any]] = [r for r in rows if str(r["org_id"]).startswith(prefix)]
    assert found, f"the sample province has no line under {prefix}"
    return found[0]


def _ask(app: AuthApp, csrf: str, body: dict[str, Any]) -> Any:
    return app.client.post(PATH, json=body, headers={"X-CSRF-Token": csrf})


def test_explainer_rights_scope_and_masking(app: AuthApp, warehouse: FactoryWarehouse) -> None:
    csrf = app.login("planner")
    doc = offer_doc("A", valid_from="2020-01-01", valid_to="2099-12-31")
    assert app.client.post("/api/offers", json=doc, headers={"X-CSRF-Token": csrf}).status_code
    assert app.client.post("/api/offers/A/activate", headers={"X-CSRF-Token": csrf}).is_success
    nanjing = _line(warehouse, "C01D1O1")
    suzhou = _line(warehouse, "C02")

    csrf = app.login("approver")  # reads the book; serves no customer
    assert _ask(app, csrf, {"msisdn": nanjing["msisdn"]}).status_code == 403
    csrf = app.login("nanjing")  # customer:read in C01, may not unmask
    answer = _ask(app, csrf, {"msisdn": nanjing["msisdn"], "unmask": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["line"]["subscriber_id"] == nanjing["subscriber_id"]
    assert body["line"]["masked"] is True
    assert body["line"]["msisdn"] != nanjing["msisdn"]
    assert body["line"]["msisdn"].startswith(nanjing["msisdn"][:3])
    assert nanjing["msisdn"] not in answer.text
    [offer] = body["offers"]
    assert offer["code"] == "A"
    assert offer["eligible"] is (offer["reasons"] == [])
    for reason in offer["reasons"]:
        assert reason["code"]
        assert reason["message"]
        assert "template" in reason

    out_of_scope = _ask(app, csrf, {"msisdn": suzhou["msisdn"]})
    missing = _ask(app, csrf, {"subscriber_id": 999_999_999})
    assert out_of_scope.status_code == missing.status_code == 404
    assert suzhou["msisdn"] not in out_of_scope.text
    by_id = _ask(app, csrf, {"subscriber_id": suzhou["subscriber_id"]})
    assert by_id.status_code == 404
    assert out_of_scope.json()["message"] == "no subscriber with this msisdn in your scope"

    bad = _ask(app, csrf, {"msisdn": "1234"})
    assert bad.status_code == 422
    assert bad.json()["details"][0]["field"] == "msisdn"
    assert _ask(app, csrf, {}).json()["details"][0]["field"] == "msisdn"
    both = _ask(app, csrf, {"msisdn": nanjing["msisdn"], "subscriber_id": 1})
    assert both.status_code == 422

    csrf = app.login("agent")  # front line at outlet C01D1O1: may unmask
    clear = _ask(app, csrf, {"subscriber_id": nanjing["subscriber_id"], "unmask": True})
    assert clear.json()["line"]["msisdn"] == nanjing["msisdn"]
    assert clear.json()["line"]["masked"] is False


def test_anonymous_is_refused(app: AuthApp) -> None:
    assert app.client.post(PATH, json={"subscriber_id": 1}).status_code == 401
