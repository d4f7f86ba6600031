"""``overview_command``: a Rich table for people, JSON for scripts, a clear error when empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from telmark.analysis.cli import overview_command
from telmark.config import get_settings
from tests._factories.warehouse import build_empty_warehouse, build_tiny_warehouse

app = typer.Typer()
app.command("overview")(overview_command)
# A second command keeps Typer from collapsing the app into its only command.
app.command("noop")(lambda: None)


def _use_warehouse(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", url)
    get_settings.cache_clear()


def test_json_output_is_the_overview(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_warehouse(monkeypatch, build_tiny_warehouse(tmp_path).url)
    result = CliRunner().invoke(app, ["overview", "--json", "--months", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["months"] == ["2024-02-01", "2024-03-01"]
    assert [c["name"] for c in data["cities"]] == ["南京", "苏州"]
    assert data["province"][0]["subscribers"] == 3 + 3 + 1


def test_table_output_shows_province_and_cities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_warehouse(monkeypatch, build_tiny_warehouse(tmp_path).url)
    result = CliRunner().invoke(app, ["overview"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Province by month" in result.stdout
    assert "Cities in 2024-03" in result.stdout
    assert "2024-01" in result.stdout
    assert "54.56" in result.stdout  # the province's January ARPU: 49100 fen / 9 lines
    assert "26.00" in result.stdout  # Nanjing's March ARPU: 7801 fen / 3 lines
    assert "南京 (C1)" in result.stdout


def test_empty_warehouse_exits_with_guidance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_warehouse(monkeypatch, build_empty_warehouse(tmp_path).url)
    result = CliRunner().invoke(app, ["overview"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "telmark data generate --load" in result.output
    assert "table=usage_monthly, reason=missing" in result.output


def test_months_must_be_positive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_warehouse(monkeypatch, build_tiny_warehouse(tmp_path).url)
    result = CliRunner().invoke(app, ["overview", "--months", "0"])
    assert result.exit_code == 2
    assert "--months" in result.output
