"""``telmark analysis report``: JSON, and the HTML, Excel and PDF files (default SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from telmark.cli import app
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from telmark.org import service as org_service
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.report import report_warehouse

runner = CliRunner()


@pytest.fixture(autouse=True)
def province(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = report_warehouse(tmp_path / "w")
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse.url)
    get_settings.cache_clear()
    upgrade_database()
    con = connect()
    with UnitOfWork() as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
    con.disconnect()


def test_report_as_json_and_as_files(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["analysis", "report", "--city", "C01", "--month", "2025-02", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["city_code"], body["kpis"]["cities_ranked"]) == ("C01", 13)
    subscribers = next(
        line["value"] for line in body["kpis"]["lines"] if line["key"] == "subscribers"
    )

    xlsx = tmp_path / "r.xlsx"
    result = runner.invoke(
        app, ["analysis", "report", "--city", "C01", "--out", str(xlsx), "--locale", "en"]
    )
    assert result.exit_code == 0, result.output
    sheet = load_workbook(xlsx)["Key figures"]
    assert [
        r[1] for r in sheet.iter_rows(min_row=5, values_only=True) if r[0] == "Subscribers"
    ] == [subscribers]
    pdf = tmp_path / "r.pdf"
    assert runner.invoke(app, ["analysis", "report", "--out", str(pdf)]).exit_code == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    html = tmp_path / "report.html"
    result = runner.invoke(
        app, ["analysis", "report", "--format", "html", "--out", str(html), "--locale", "en"]
    )
    assert result.exit_code == 0, result.output
    text = html.read_text()
    assert text.startswith("<!doctype html>")
    assert "Monthly operating analysis · Nanjing" in text
    assert 'data-kpi="subscribers"' in text


def test_bad_month_and_unknown_city_are_errors() -> None:
    bad = runner.invoke(app, ["analysis", "report", "--month", "2025-13"])
    assert bad.exit_code != 0
    assert "not a month" in bad.output
    missing = runner.invoke(app, ["analysis", "report", "--city", "C99"])
    assert missing.exit_code != 0
    assert "C99" in missing.output
