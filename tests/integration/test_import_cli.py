"""``telmark data import|load|tables`` through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from telmark.config import get_settings
from telmark.warehouse.importer.cli import import_command, load_command, tables_command
from tests.integration.test_import_data import (
    SAMPLE,
    edited,
    sample_warehouse,
    write_csv,
    write_province,
)

app = typer.Typer()
app.command("import")(import_command)
app.command("load")(load_command)
app.command("tables")(tables_command)
runner = CliRunner()


@pytest.fixture
def warehouse_url(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The sample province in a DuckDB file the commands open through the settings."""
    sample_warehouse(tmp_path_factory, tmp_path).disconnect()
    url = "duckdb://" + str(tmp_path / "w.duckdb")
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.mark.usefixtures("warehouse_url")
def test_rejected_import_exits_2_naming_row_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "staff.csv", edited("staff", {1: {"level": "two"}}))
    result = runner.invoke(app, ["import", "staff", str(path)])
    assert result.exit_code == 2
    # Rich wraps stderr at the terminal width, wherever the (temporary) path pushes the words.
    said = " ".join(result.stderr.split())
    assert "1 problem found; nothing was loaded" in said
    assert "row=3, column=level, value=two, reason=not an integer" in said


@pytest.mark.usefixtures("warehouse_url")
def test_rejected_import_as_json(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "staff.csv", edited("staff", {0: {"grade": "11"}}))
    result = runner.invoke(app, ["import", "staff", str(path), "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["total"] == 1
    assert payload["problems"] == [
        {
            "file": str(path),
            "row": 2,
            "column": "grade",
            "value": "11",
            "reason": "above the maximum 10",
        }
    ]


@pytest.mark.usefixtures("warehouse_url")
def test_good_import_prints_the_report(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "staff.gbk.csv", SAMPLE["staff"], encoding="gbk")
    result = runner.invoke(app, ["import", "staff", str(path), "--json"])
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert (report["table"], report["rows"], report["encoding"]) == ("staff", 2, "gb18030")
    result = runner.invoke(app, ["import", "staff", str(path), "--encoding", "gbk"])
    assert result.exit_code == 0
    assert "staff" in result.stdout


@pytest.mark.usefixtures("warehouse_url")
def test_load_and_tables(tmp_path: Path) -> None:
    directory = write_province(tmp_path / "p")
    result = runner.invoke(app, ["load", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == len(SAMPLE)
    result = runner.invoke(app, ["tables", "--json"])
    assert result.exit_code == 0
    listed = {row["table"]: (row["rows"], row["kind"]) for row in json.loads(result.stdout)}
    assert listed["usage_monthly"] == (3, "contract")
    assert listed["org_closure"][1] == "other"


@pytest.mark.usefixtures("warehouse_url")
def test_load_rejection_exits_2(tmp_path: Path) -> None:
    directory = write_province(tmp_path / "p")
    (directory / "orders.csv").unlink()
    result = runner.invoke(app, ["load", str(directory)])
    assert result.exit_code == 2
    assert "no input for table orders" in result.stderr.replace("\n", "")
