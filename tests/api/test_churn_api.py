"""Churn routes: train, list, show, activate, score and risk by city; rights and scope."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from telmark.analysis.churn import service
from telmark.auth.domain import Principal
from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.uow import UnitOfWork, uow_dependency
from telmark.warehouse.connection import connect
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests._factories.churn import churn_warehouse

API = "/api/analysis/churn"
PAGE = "/analysis/churn"
PROVINCE = principal_at("P32", "/P32/")
NANJING = principal_at("C01", "/P32/C01/", org_name="南京市")
Client = Callable[[Principal], TestClient]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    url = churn_warehouse(tmp_path_factory.mktemp("churn-api"), subscribers=6_000, months=3)
    return Path(url.removeprefix("duckdb://"))


@pytest.fixture(scope="module")
def shared_fit(source: Path) -> service.Fitted:
    con = connect("duckdb://" + str(source))
    try:
        return service.fit_churn(con=con)
    finally:
        con.disconnect()


@pytest.fixture
def clients(
    tmp_path: Path,
    db: sessionmaker[Session],
    source: Path,
    shared_fit: service.Fitted,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Client]:
    """Clients signed in as a given principal, over a private copy of the warehouse."""
    # The routes are under test here, not fitting (tests/integration/test_churn_service.py).
    monkeypatch.setattr(service, "fit_churn", lambda **_: shared_fit)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(source, warehouse)
    settings = Settings(data_dir=tmp_path / "data", warehouse_url=f"duckdb://{warehouse}")
    opened: list[TestClient] = []

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as unit:
            yield unit

    def make(principal: Principal) -> TestClient:
        app = create_app(settings)
        app.dependency_overrides[uow_dependency] = test_uow
        sign_in_as(app, principal)
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def test_train_list_show_activate_and_score(clients: Client, tmp_path: Path) -> None:
    client = clients(PROVINCE)
    assert client.get(f"{API}/models").json() == []
    first = client.post(f"{API}/train", json={})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["version"] == 1
    assert body["status"] == "active"
    assert body["trained_by"] == PROVINCE.username
    assert len(body["metrics"]["lift"]) == 10
    assert Path(body["artifact_path"]).parent == tmp_path / "data" / "models"
    assert client.post(f"{API}/train", json={"seed": 3}).json()["version"] == 2

    listed = client.get(f"{API}/models").json()
    assert [(m["version"], m["status"]) for m in listed] == [(2, "active"), (1, "retired")]
    shown = client.get(f"{API}/models/1").json()
    assert shown["auc"] == body["auc"]
    assert {c["decile"] for c in shown["metrics"]["calibration"]} == set(range(1, 11))
    assert client.get(f"{API}/models/9").status_code == 404
    assert client.post(f"{API}/models/2/activate").status_code == 409
    activated = client.post(f"{API}/models/1/activate")
    assert activated.status_code == 200
    assert activated.json()["status"] == "active"

    scored = client.post(f"{API}/score", json={})
    assert scored.status_code == 200, scored.text
    run = scored.json()
    assert run["model_version"] == 1
    assert sum(run["bands"].values()) == run["rows"] > 4_000
    risk = client.get(f"{API}/risk").json()
    assert risk["scored"] is True
    assert risk["model_version"] == 1
    assert len(risk["cities"]) == 13
    assert sum(c["lines"] for c in risk["cities"]) <= run["rows"]


def test_a_city_user_reads_models_and_own_risk_but_cannot_train(clients: Client) -> None:
    province = clients(PROVINCE)
    assert province.post(f"{API}/train", json={}).status_code == 200
    assert province.post(f"{API}/score", json={}).status_code == 200
    city = clients(NANJING)
    refused = city.post(f"{API}/train", json={})
    assert refused.status_code == 403
    assert "province-level" in refused.json()["message"]
    assert city.post(f"{API}/score", json={}).status_code == 403
    assert city.post(f"{API}/models/1/activate").status_code == 403
    assert [m["version"] for m in city.get(f"{API}/models").json()] == [1]
    assert city.get(f"{API}/models/1").status_code == 200
    risk = city.get(f"{API}/risk").json()
    assert [c["city_id"] for c in risk["cities"]] == ["C01"]
    whole = {c["city_id"]: c for c in province.get(f"{API}/risk").json()["cities"]}
    assert risk["cities"][0] == whole["C01"]


def test_readers_without_analysis_rights_cannot_train(clients: Client) -> None:
    viewer = clients(principal_at("P32", "/P32/", roles=[Role.APPROVER]))
    assert viewer.post(f"{API}/train", json={}).status_code == 403
    assert viewer.get(f"{API}/models").status_code == 200


def test_the_page_before_and_after_training(clients: Client) -> None:
    client = clients(PROVINCE)
    empty = client.get(f"{PAGE}?lang=en")
    assert empty.status_code == 200
    assert "No churn model yet" in empty.text
    assert 'action="/analysis/churn/train"' in empty.text
    trained = client.post(f"{PAGE}/train", follow_redirects=False)
    assert trained.status_code == 303
    assert trained.headers["location"] == f"{PAGE}?done=trained"
    assert client.post(f"{PAGE}/score", follow_redirects=False).status_code == 303
    page = client.get(f"{PAGE}?done=scored&lang=en")
    assert "Holdout AUC" in page.text
    assert "every active line was scored" in page.text.lower()
    assert 'id="churn-data"' in page.text
    assert 'data-version="1"' in page.text
    again = client.post(f"{PAGE}/models/1/activate", follow_redirects=False)
    assert again.status_code == 409
    assert "already the active model" in again.text


def test_the_page_of_a_city_user_has_no_train_button(clients: Client) -> None:
    province = clients(PROVINCE)
    province.post(f"{API}/train", json={})
    province.post(f"{API}/score", json={})
    city = clients(NANJING)
    page = city.get(f"{PAGE}?lang=en")
    assert page.status_code == 200
    assert "Holdout AUC" in page.text
    assert 'action="/analysis/churn/train"' not in page.text
    assert "无锡" not in page.text
    assert "Wuxi" not in page.text
    refused = city.post(f"{PAGE}/train?lang=en")
    assert refused.status_code == 403
    assert "only province-level users" in refused.text
