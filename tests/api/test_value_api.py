"""The retention and CLV fits through HTTP: signed-in callers, their own data only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from telmark.config import Settings
from telmark.web.app import create_app
from tests._factories.auth import province_app
from tests._factories.value import cdnow_transactions

# Fader & Hardie (2007), "How to Project Customer Retention": the regular cohort, years 0-7.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
# Every customer buys alike: nothing to tell them apart.
UNIFORM = "\n".join(
    [
        "msisdn,paid_at,amount",
        *[f"a{i},2024-01-0{1 + i % 3},{10 + i}" for i in range(30)],
        *[f"a{i},2024-02-{10 + i % 15},{12 + i % 5}" for i in range(0, 30, 2)],
        *[f"a{i},2024-03-{10 + i % 15},{9 + i % 4}" for i in range(0, 30, 3)],
        *[f"a{i},2024-04-0{1 + i % 9},{11}" for i in range(0, 30, 5)],
    ]
)
FORM = {
    "customer": "msisdn",
    "date": "paid_at",
    "value": "amount",
    "observation_end": "2024-12-31",
    "period_days": "7",
    "horizon": "13",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(province_app(Settings(data_dir=tmp_path / "data"))) as test_client:
        yield test_client


def test_retention_fit(client: TestClient) -> None:
    response = client.post("/api/analysis/retention/fit", json={"survivors": REGULAR})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (round(body["alpha"], 3), round(body["beta"], 3)) == (0.704, 1.182)
    assert len(body["projection"]) == 14  # default: twice the observed periods
    assert body["projection"][6]["observed_survivors"] == 241


def test_retention_fit_rejects_a_rising_count(client: TestClient) -> None:
    response = client.post("/api/analysis/retention/fit", json={"survivors": [100, 120]})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"


def test_clv_fit_on_an_upload(client: TestClient) -> None:
    upload = cdnow_transactions(300).to_csv(index=False).encode()
    files = {"transactions": ("tx.csv", upload, "text/csv")}
    response = client.post("/api/analysis/clv/fit", data=FORM, files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["purchases"]["customers"] == 300
    assert body["horizon"] == 13
    customers = body["customers"]
    assert len(customers) == 300
    assert all(c["clv"] >= 0 for c in customers)
    assert customers[0]["clv"] == max(c["clv"] for c in customers)


def test_clv_fit_refuses_customers_that_cannot_be_told_apart(client: TestClient) -> None:
    files = {"transactions": ("tx.csv", UNIFORM.encode(), "text/csv")}
    response = client.post("/api/analysis/clv/fit", data=FORM, files=files)
    assert response.status_code == 422
    assert "did not converge" in response.json()["message"]


def test_clv_fit_names_the_bad_cell(client: TestClient) -> None:
    bad = b"msisdn,paid_at,amount\na,2024-01-01,5\nb,2024-13-01,5\n"
    response = client.post(
        "/api/analysis/clv/fit", data=FORM, files={"transactions": ("bad.csv", bad, "text/csv")}
    )
    assert response.status_code == 422
    body = response.json()
    assert "bad.csv" in body["message"]
    assert body["details"][0]["row"] == 3
    assert body["details"][0]["column"] == "paid_at"


def test_fits_need_a_signed_in_caller(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as anonymous:
        response = anonymous.post("/api/analysis/retention/fit", json={"survivors": REGULAR})
    assert response.status_code == 401
