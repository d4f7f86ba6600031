"""The app shell: health, version, OpenAPI and docs, static files, error mapping, laziness."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from telmark import __version__
from telmark.config import Settings
from telmark.errors import NotFound
from tests._factories.auth import province_app
from tests._factories.warehouse import build_empty_warehouse, build_tiny_warehouse


def _settings(tmp_path: Path, warehouse_url: str, **extra: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", warehouse_url=warehouse_url, **extra)  # type: ignore[arg-type]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = _settings(tmp_path, build_tiny_warehouse(tmp_path).url)
    with TestClient(province_app(settings)) as test_client:
        yield test_client


def test_health_reports_both_databases_and_loaded_data(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["database"]["reachable"] is True
    assert body["warehouse"] == {
        "reachable": True,
        "data_loaded": True,
        "missing_tables": [],
        "error": None,
    }


def test_health_of_an_empty_warehouse_is_ok_but_not_loaded(tmp_path: Path) -> None:
    settings = _settings(tmp_path, build_empty_warehouse(tmp_path).url)
    with TestClient(province_app(settings)) as test_client:
        response = test_client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["warehouse"]["data_loaded"] is False
    assert "usage_monthly" in response.json()["warehouse"]["missing_tables"]


def test_health_is_503_when_the_operational_database_is_unreachable(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir"
    settings = _settings(
        tmp_path,
        build_tiny_warehouse(tmp_path).url,
        database_url=f"sqlite:///{missing_dir / 'telmark.db'}",
    )
    with TestClient(province_app(settings)) as test_client:
        response = test_client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["reachable"] is False
    assert "OperationalError" in body["database"]["error"]
    assert body["warehouse"]["reachable"] is True


def test_health_is_503_when_the_warehouse_cannot_be_opened(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    settings = _settings(tmp_path, f"duckdb://{not_a_dir / 'warehouse.duckdb'}")
    with TestClient(province_app(settings)) as test_client:
        response = test_client.get("/api/health")
        overview = test_client.get("/api/analysis/overview")
    assert response.status_code == 503
    assert response.json()["warehouse"]["reachable"] is False
    assert overview.status_code == 503
    assert overview.json()["error"] == "warehouse_unavailable"


def test_no_warehouse_connection_until_a_request_needs_one(tmp_path: Path) -> None:
    path = tmp_path / "lazy" / "warehouse.duckdb"
    app = province_app(_settings(tmp_path, f"duckdb://{path}"))
    with TestClient(app) as test_client:
        assert not path.exists()
        test_client.get("/api/version")
        assert not path.exists()
        test_client.get("/api/health")
        assert path.exists()


def test_version(client: TestClient) -> None:
    assert client.get("/api/version").json() == {"name": "telmark", "version": __version__}


def test_openapi_documents_the_api_but_not_the_console(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "telmark"
    assert spec["info"]["version"] == __version__
    assert {"/api/health", "/api/version", "/api/analysis/overview"} <= set(spec["paths"])
    assert "/" not in spec["paths"]
    overview = spec["paths"]["/api/analysis/overview"]["get"]
    assert {"200", "409", "503"} <= set(overview["responses"])


def test_docs_load_vendored_swagger_ui_only(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/redoc").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/vendor/echarts/echarts.min.js",
        "/static/vendor/echarts/LICENSE",
        "/static/vendor/echarts/NOTICE",
        "/static/vendor/htmx/htmx.min.js",
        "/static/vendor/htmx/LICENSE",
        "/static/css/console.css",
        "/static/js/overview.js",
        "/static/img/favicon.svg",
    ],
)
def test_static_files_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert len(response.content) > 100


def _add_failing_routes(client: TestClient) -> None:
    def fail() -> None:
        raise NotFound("case 42 does not exist", details=[{"case_id": 42}])

    router = APIRouter()
    router.add_api_route("/api/test-failure", fail)
    router.add_api_route("/test-failure", fail)
    client.app.include_router(router)  # type: ignore[attr-defined]


def test_domain_error_is_json_under_api(client: TestClient) -> None:
    _add_failing_routes(client)
    response = client.get("/api/test-failure")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "case 42 does not exist",
        "details": [{"case_id": 42}],
    }


def test_domain_error_is_an_error_page_in_the_console(client: TestClient) -> None:
    _add_failing_routes(client)
    response = client.get("/test-failure")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "页面不存在" in response.text  # the zh-CN heading for 404
    assert "case 42 does not exist" in response.text
    assert "not_found" in response.text
    english = client.get("/test-failure?lang=en")
    assert "Page not found" in english.text


def test_unknown_paths(client: TestClient) -> None:
    assert client.get("/api/nothing-here").json() == {"detail": "Not Found"}
    page = client.get("/nothing-here")
    assert page.status_code == 404
    assert "<html" in page.text
    assert "返回经营概览" in page.text  # the link back to the overview


def test_concurrent_requests_share_the_warehouse_safely(client: TestClient) -> None:
    expected = client.get("/api/analysis/overview").json()
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: client.get("/api/analysis/overview"), range(24)))
    assert {r.status_code for r in responses} == {200}
    assert all(r.json() == expected for r in responses)
