"""The monthly report over HTTP: the cube's numbers, ranks, segments, downloads, scope, gaps."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.analysis.kpi import service as kpi_service
from telmark.analysis.kpi.domain import KPIS, kpi_value
from telmark.audit.models import AuditEntry
from telmark.warehouse.connection import connect
from tests._factories.auth_client import AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.report import pdf_literal, pdf_text_streams, report_warehouse
from tests._factories.warehouse import FactoryWarehouse

FEB = date(2025, 2, 1)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return report_warehouse(tmp_path_factory.mktemp("report"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    yield from province_app(tmp_path, db, warehouse)


def test_report_numbers_are_the_cube_services(app: AuthApp, warehouse: FactoryWarehouse) -> None:
    app.login("planner")
    report = app.client.get("/api/analysis/report", params={"city": "C03", "month": "2025-02"})
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["city_code"], body["city_name"], body["month"]) == ("C03", "无锡", "2025-02-01")
    con = connect(warehouse.url)
    expected = kpi_service.unit_month(con=con, unit="C03", month=FEB)
    con.disconnect()
    lines = {line["key"]: line for line in body["kpis"]["lines"]}
    assert set(lines) == set(KPIS)
    for key, line in lines.items():
        assert line["value"] == kpi_value(expected.point, key), key
        assert line["mom"] == expected.point.mom[key], key
        assert expected.point.yoy is not None
        assert line["yoy"] == expected.point.yoy[key], key
        assert line["rank"] == expected.ranks[key], key
    assert body["kpis"]["cities_ranked"] == 13
    (district,) = body["worst_districts"]  # the sample cities have one district each
    assert district["org_id"] == "C03D1"


def test_a_city_user_gets_their_own_city_ranked_among_all_and_nothing_of_others(
    app: AuthApp, warehouse: FactoryWarehouse
) -> None:
    app.login("nanjing")
    own = app.client.get("/api/analysis/report", params={"month": "2025-02"})
    assert own.status_code == 200
    assert own.json()["city_code"] == "C01"
    con = connect(warehouse.url)
    province_ranks = kpi_service.unit_month(con=con, unit="C01", month=FEB).ranks
    con.disconnect()
    lines = own.json()["kpis"]["lines"]
    assert {line["key"]: line["rank"] for line in lines} == province_ranks
    assert own.json()["kpis"]["cities_ranked"] == 13
    assert "苏州" not in own.text  # C02's name: only ranks of other cities are used
    assert app.client.get("/api/analysis/report", params={"city": "C02"}).status_code == 404
    assert app.client.get("/analysis/report.pdf", params={"city": "C02"}).status_code == 404
    # Below city level there is no city of one's own to report on.
    app.login("nanjing.district")
    assert app.client.get("/api/analysis/report").status_code == 404


def test_segments_at_risk_are_ranked_by_expected_revenue_at_risk(
    app: AuthApp, warehouse: FactoryWarehouse
) -> None:
    app.login("planner")
    body = app.client.get("/api/analysis/report", params={"city": "C01", "month": "2025-02"}).json()
    section = body["segments"]
    assert section["model_version"] == 3
    assert len(section["segments"]) >= 3
    # Independently: Σ p × ARPU of February over C01's scored lines, per (payment, tenure band).
    tables = warehouse.tables
    subscribers = {s["subscriber_id"]: s for s in tables["subscribers"].to_pylist()}
    arpu = {
        u["subscriber_id"]: u["arpu_fen"]
        for u in tables["usage_monthly"].to_pylist()
        if u["month"] == FEB
    }
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for score in tables["churn_scores"].to_pylist():
        line = subscribers[score["subscriber_id"]]
        if not line["org_id"].startswith("C01"):
            continue
        joined = line["join_date"]
        months = (2025 - joined.year) * 12 + (2 - joined.month)
        band = (
            "0-1y" if months < 12 else "1-3y" if months < 36 else "3-5y" if months < 60 else "5y+"
        )
        expected[(line["payment_type"], band)] += score["churn_probability"] * arpu.get(
            score["subscriber_id"], 0
        )
    got = {
        (s["payment_type"], s["tenure_band"]): s["revenue_at_risk_fen"] for s in section["segments"]
    }
    top = sorted(expected.items(), key=lambda kv: -kv[1])[: len(got)]
    assert got == {key: round(value) for key, value in top}
    ranked = [s["revenue_at_risk_fen"] for s in section["segments"]]
    assert ranked == sorted(ranked, reverse=True)
    assert {s["plan_family"] for s in section["segments"]} == {"5g_plan"}


def test_the_excel_download_holds_the_figures_and_is_audited(
    app: AuthApp, db: sessionmaker[Session]
) -> None:
    app.login("nanjing")
    body = app.client.get("/api/analysis/report", params={"month": "2025-02"}).json()
    response = app.client.get("/analysis/report.xlsx", params={"month": "2025-02", "lang": "en"})
    assert response.status_code == 200
    assert "telmark-report-C01-2025-02.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == "Key figures"
    sheet = book["Key figures"]
    assert sheet["B1"].value == "南京"
    rows = {r[0]: r for r in sheet.iter_rows(min_row=5, values_only=True) if r[0]}
    lines = {line["key"]: line for line in body["kpis"]["lines"]}
    assert rows["Subscribers"][1] == lines["subscribers"]["value"]
    assert rows["ARPU"][1] == pytest.approx(lines["arpu_fen"]["value"] / 100)
    assert rows["Port-out churn rate"][1] == pytest.approx(lines["churn_rate"]["value"])
    assert rows["ARPU"][4] == lines["arpu_fen"]["rank"]
    assert "Segments at risk" in book.sheetnames
    with db() as session:
        exports = list(
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "export", AuditEntry.entity_type == "analysis_report"
                )
            )
        )
        assert [(e.actor_username, e.entity_id) for e in exports] == [("nanjing", "C01:2025-02")]


def test_the_pdf_download_is_a_pdf_naming_the_city(app: AuthApp) -> None:
    app.login("nanjing")
    response = app.client.get("/analysis/report.pdf", params={"month": "2025-02"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = b"".join(pdf_text_streams(response.content))
    assert pdf_literal("南京") in text
    assert pdf_literal("苏州") not in text
    english = app.client.get("/analysis/report.pdf", params={"month": "2025-02", "lang": "en"})
    english_text = b"".join(pdf_text_streams(english.content))
    assert pdf_literal("Monthly operating analysis · Nanjing") in english_text


def test_the_report_page_renders_with_downloads(app: AuthApp) -> None:
    app.login("nanjing")
    page = app.client.get("/analysis/report", params={"lang": "en"})
    assert page.status_code == 200
    assert 'href="/analysis/report.xlsx?city=C01&amp;month=2025-02"' in page.text
    assert 'data-kpi="churn_rate"' in page.text
    assert "Segments at risk" in page.text
    assert "苏州" not in page.text


def test_missing_cube_and_scores_are_named_with_the_command_to_build_them(
    tmp_path: Path, db: sessionmaker[Session]
) -> None:
    bare = sample_warehouse(tmp_path / "bare")
    for client_app in province_app(tmp_path, db, bare):
        client_app.login("nanjing")
        body = client_app.client.get("/api/analysis/report").json()
        assert body["kpis"] is None
        assert body["kpis_missing"]["command"] == "telmark analysis kpi refresh"
        assert body["segments"] is None
        assert "telmark analysis churn score" in body["segments_missing"]["command"]
        assert body["risks"] == []
        assert body["month"] == "2025-02-01"  # the latest month of usage data
        page = client_app.client.get("/analysis/report", params={"lang": "en"})
        assert page.status_code == 200
        assert "<code>telmark analysis kpi refresh</code>" in page.text
