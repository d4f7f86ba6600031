"""``telmark responses import|attribute|summary|window|simulate`` on the configured database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from telmark.cli import app
from telmark.config import get_settings
from telmark.db import get_session_factory
from telmark.dbcli import upgrade_database
from tests.integration.test_response_attribution import EVENTS, World, build_world, write_csv

runner = CliRunner()


@pytest.fixture
def world() -> World:
    upgrade_database()
    settings = get_settings()
    factory = get_session_factory(settings.resolved_database_url)
    return build_world(factory, settings.resolved_targeting_dir)


def run(*args: str) -> Any:
    result = runner.invoke(app, ["responses", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_import_summary_window_and_rerun(world: World, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "boss.csv", EVENTS)
    imported = run("import", str(path))
    assert (imported["new_events"], imported["attribution"]["attributed"]) == (7, 5)
    assert run("import", str(path))["new_events"] == 0
    assert run("attribute")["attributed"] == 0
    summary = run("summary", "--case-id", str(world.renew), "--by", "city")
    totals = {t["group"]: t for t in summary["totals"]}
    assert (totals["treatment"]["take_up_bp"], totals["control"]["take_up_bp"]) == (2857, 3333)
    assert {r["key"] for r in summary["rows"]} == {"C01", "C02"}
    window = run("window", "--case-id", str(world.renew), "--days", "2")
    assert window["attribution"]["removed"] == 2
    table = runner.invoke(app, ["responses", "summary", "--case-id", str(world.renew)])
    assert table.exit_code == 0
    assert "attribution window 2 days" in table.output


def test_errors_name_the_row_and_column_and_exit_2(world: World, tmp_path: Path) -> None:
    del world
    path = write_csv(tmp_path / "bad.csv", ["E1,1,upsell,2026-10-05T10:00:00+08:00,,,0"])
    result = runner.invoke(app, ["responses", "import", str(path)])
    assert result.exit_code == 2
    assert "bad.csv" in result.output
    assert "row=2" in result.output
    assert "column=type" in result.output
    bad_day = runner.invoke(app, ["responses", "simulate", "--until", "2026-13-01"])
    assert bad_day.exit_code == 2
    assert "--until" in bad_day.output
    # An operator's warehouse (here: an empty one) has no hidden response model.
    refused = runner.invoke(app, ["responses", "simulate", "--until", "2026-10-31"])
    assert refused.exit_code == 2
    assert "truth_response" in refused.output
