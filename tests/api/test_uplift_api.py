"""Uplift routes and page: train from a file or cases, list, show, score; rights and errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth.domain import Principal
from telmark.config import Settings
from telmark.uow import UnitOfWork, uow_dependency
from telmark.warehouse.connection import connect
from telmark.web.app import create_app
from tests._factories.auth import principal_at, sign_in_as
from tests._factories.churn import churn_warehouse
from tests.integration.test_uplift_service import simulate

API = "/api/analysis/uplift"
PAGE = "/analysis/uplift"
PROVINCE = principal_at("P32", "/P32/")
NANJING = principal_at("C01", "/P32/C01/", org_name="南京市")
Client = Callable[[Principal], TestClient]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A generated province and a simulated case on it, as CSV."""
    url = churn_warehouse(tmp_path_factory.mktemp("uplift-api"), subscribers=6_000, months=2)
    con = connect(url)
    try:
        truth = con.table("truth_response").order_by("subscriber_id").to_pyarrow()
    finally:
        con.disconnect()
    ids = truth.column("subscriber_id").to_numpy()
    treated, outcome = simulate(
        ids, truth.column("base_propensity").to_numpy(), truth.column("uplift_subsidy").to_numpy()
    )
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.table({"subscriber_id": ids, "treated": treated, "outcome": outcome}), sink)
    return Path(url.removeprefix("duckdb://")), bytes(sink.getvalue().to_pybytes())


@pytest.fixture
def clients(
    tmp_path: Path, db: sessionmaker[Session], source: tuple[Path, bytes]
) -> Iterator[Client]:
    """Clients signed in as a given principal, over a private copy of the warehouse."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(source[0], warehouse)
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


def test_train_from_a_file_list_show_score_and_page(
    clients: Client, source: tuple[Path, bytes], tmp_path: Path
) -> None:
    client = clients(PROVINCE)
    assert client.get(f"{API}/models").json() == []
    empty = client.get(f"{PAGE}?lang=en")
    assert empty.status_code == 200
    assert 'id="no-model"' in empty.text
    trained = client.post(
        f"{API}/train-file", files={"file": ("case.csv", source[1], "text/csv")}, data={"seed": "2"}
    )
    assert trained.status_code == 200, trained.text
    body = trained.json()
    assert (body["version"], body["status"], body["source"]) == (1, "trained", "file")
    assert body["source_file"] == "case.csv"
    assert body["seed"] == 2
    assert Path(body["artifact_path"]).parent == tmp_path / "data" / "models"
    assert len(body["metrics"]["qini_curve"]) == 101
    assert [m["version"] for m in client.get(f"{API}/models").json()] == [1]
    assert client.get(f"{API}/models/1").json()["qini"] == body["qini"]
    assert client.get(f"{API}/models/7").status_code == 404

    scored = client.post(f"{API}/models/1/score")
    assert scored.status_code == 200, scored.text
    assert scored.json()["rows"] > 5_000
    page = client.get(f"{PAGE}?lang=en")
    assert page.status_code == 200
    assert 'data-version="1"' in page.text
    assert 'id="chart-qini"' in page.text
    assert 'id="uplift-at-k"' in page.text
    assert "uplift-data" in page.text
    assert "scored" in page.text


def test_city_users_read_but_cannot_train_or_score(
    clients: Client, source: tuple[Path, bytes]
) -> None:
    province, city = clients(PROVINCE), clients(NANJING)
    upload = {"file": ("case.csv", source[1], "text/csv")}
    assert province.post(f"{API}/train-file", files=upload).status_code == 200
    refused = city.post(f"{API}/train-file", files=upload)
    assert refused.status_code == 403
    assert "province-level" in refused.json()["message"]
    assert city.post(f"{API}/models/1/score").status_code == 403
    assert city.post(f"{API}/train", json={"case_ids": [1]}).status_code == 403
    assert [m["version"] for m in city.get(f"{API}/models").json()] == [1]
    page = city.get(f"{PAGE}?lang=en")
    assert page.status_code == 200
    assert 'id="train-button"' not in page.text
    assert city.post(f"{PAGE}/train?lang=en", data={"case_ids": "1"}).status_code == 403


def test_bad_requests_are_named(clients: Client) -> None:
    client = clients(PROVINCE)
    missing = client.post(f"{API}/train", json={"case_ids": [424242]})
    assert missing.status_code == 404
    assert "case 424242 not found" in missing.json()["message"]
    none = client.post(f"{API}/train", json={"case_ids": []})
    assert none.status_code == 422
    bad_file = client.post(
        f"{API}/train-file", files={"file": ("x.csv", b"subscriber_id,treated\n1,1\n", "text/csv")}
    )
    assert bad_file.status_code == 422
    assert "missing column(s) outcome" in bad_file.json()["message"]
    form = client.post(f"{PAGE}/train?lang=en", data={"case_ids": "12; drop"})
    assert form.status_code == 422
    assert "case ids are whole numbers" in form.text
    assert 'value="12; drop"' in form.text
