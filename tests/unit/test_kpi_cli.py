"""``telmark analysis kpi refresh|show|month``: JSON for scripts, tables for people."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from telmark.analysis.kpi.cli import app
from telmark.config import get_settings
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer.cli import load_command
from tests.unit.test_kpi_cube import build_kpi_tiny


def _use_warehouse(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", url)
    get_settings.cache_clear()


def test_refresh_then_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_warehouse(monkeypatch, build_kpi_tiny(tmp_path, refresh=False).url)
    runner = CliRunner()
    missing = runner.invoke(app, ["show", "--json"])
    assert missing.exit_code != 0
    assert "telmark analysis kpi refresh" in missing.output
    built = runner.invoke(app, ["refresh", "--json"])
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout)["months"] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    shown = runner.invoke(app, ["show", "--unit", "C1", "--months", "2", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["unit"]["org_id"] == "C1"
    assert [p["counts"]["subscribers"] for p in data["series"]] == [3, 3]
    table = runner.invoke(app, ["show"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "Children in 2024-03" in table.stdout
    assert "YoY: the month a year earlier is not in the cube." in table.stdout


def test_month_and_unknown_unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_warehouse(monkeypatch, build_kpi_tiny(tmp_path).url)
    runner = CliRunner()
    result = runner.invoke(app, ["month", "--unit", "C2", "--month", "2024-03", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["month"] == "2024-03-01"
    assert [p["unit"]["org_id"] for p in data["peers"]] == ["C1", "C2"]
    unknown = runner.invoke(app, ["show", "--unit", "C9"])
    assert unknown.exit_code != 0
    assert "C9" in unknown.output


def test_data_load_rebuilds_the_cube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "duckdb://" + str(tmp_path / "w.duckdb")
    _use_warehouse(monkeypatch, url)
    generate_province(
        out_dir=tmp_path / "p", subscribers=300, months=2, seed=2, end_month=date(2026, 3, 1)
    )
    loader = typer.Typer()
    loader.command("load")(load_command)
    loader.command("noop")(lambda: None)
    result = CliRunner().invoke(loader, ["load", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "kpi_cube refreshed" in result.stdout
    con = connect(url)
    try:
        months = con.table("kpi_cube").select("month").distinct().to_pyarrow()
        assert months.num_rows == 2
    finally:
        con.disconnect()
