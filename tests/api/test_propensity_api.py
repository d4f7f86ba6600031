"""``POST /api/analysis/propensity/train``: upload a labelled file, get the report back."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from telmark.analysis.propensity import PropensityReport
from telmark.config import Settings
from telmark.web.app import create_app
from tests._factories.auth import province_app
from tests._factories.propensity import labelled_customers
from tests._factories.warehouse import build_empty_warehouse

URL = "/api/analysis/propensity/train"


def _settings(tmp_path: Path) -> Settings:
    url = build_empty_warehouse(tmp_path / "wh").url
    return Settings(data_dir=tmp_path / "data", warehouse_url=url)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(province_app(_settings(tmp_path))) as test_client:
        yield test_client


def test_csv_upload_returns_the_report_with_every_score(client: TestClient) -> None:
    frame = labelled_customers(rows=1200, seed=11)
    upload = frame.to_csv(index=False).encode("gbk")
    response = client.post(
        URL,
        files={"file": ("客户.csv", upload, "text/csv")},
        data={"label": "churned", "id": "customer_id", "seed": "1", "holdout": "0.3"},
    )
    assert response.status_code == 200, response.text
    report = PropensityReport.model_validate(response.json())
    assert report.auc > 0.65
    assert report.seed == 1
    assert report.holdout == 0.3
    assert report.holdout_rows == 360
    assert [s.id for s in report.scores] == frame["customer_id"].tolist()


def test_parquet_upload(client: TestClient) -> None:
    frame = labelled_customers(rows=1200, seed=12)
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    response = client.post(
        URL,
        files={"file": ("customers.parquet", sink.getvalue(), "application/octet-stream")},
        data={"label": "churned", "id": "customer_id"},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["scores"]) == 1200


def test_a_bad_label_is_422_naming_the_column(client: TestClient) -> None:
    upload = labelled_customers(rows=300).to_csv(index=False).encode()
    response = client.post(
        URL,
        files={"file": ("c.csv", upload, "text/csv")},
        data={"label": "plan", "id": "customer_id"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert "label column 'plan' must be binary" in body["message"]


def test_missing_form_fields_are_422(client: TestClient) -> None:
    response = client.post(URL, files={"file": ("c.csv", b"a,b\n1,2\n", "text/csv")})
    assert response.status_code == 422


def test_anonymous_callers_are_refused(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path))) as anonymous:
        response = anonymous.post(
            URL,
            files={"file": ("c.csv", b"a,b\n1,2\n", "text/csv")},
            data={"label": "b", "id": "a"},
        )
    assert response.status_code == 401
