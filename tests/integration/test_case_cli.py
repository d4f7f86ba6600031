"""``telmark cases``: create from a file, submit, the submitter cannot approve, timeline,
templates, alerts (SQLite, the CLI's default database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints
from typer.testing import CliRunner

from telmark.cli import app
from telmark.config import get_settings
from telmark.db import get_session_factory
from telmark.dbcli import upgrade_database
from tests._factories.cases import CaseWorld, build_world, plan
from tests._factories.segments import load_warehouse, province_directory

runner = CliRunner()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CaseWorld:
    con = load_warehouse(province_directory(tmp_path, subscribers=300, seed=4), tmp_path / "w.db")
    con.disconnect()
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", f"duckdb://{tmp_path / 'w.db'}")
    get_settings.cache_clear()
    upgrade_database()
    settings = get_settings()
    from telmark.warehouse.connection import connect

    con = connect(settings=settings)
    built = build_world(
        get_session_factory(settings.resolved_database_url), con, settings.resolved_snapshot_dir
    )
    con.disconnect()
    return built


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return json.loads(result.output) if code == 0 and "--json" in args else result.output


def test_create_submit_timeline(world: CaseWorld, tmp_path: Path) -> None:
    doc = plan(world.province, world.province_snapshot).model_dump(mode="json")
    file = tmp_path / "case.yaml"
    file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    created = run("cases", "create", str(file), "--json")
    case_id = created["case"]["id"]
    assert created["case"]["status"] == "draft"
    assert created["projection"]["totals"]["takers"] > 0
    assert run("cases", "submit", str(case_id), "--json")["status"] == "submitted"
    refused = run("cases", "approve", str(case_id), code=2)
    assert "submitted this case" in refused
    timeline = run("cases", "timeline", str(case_id), "--json")
    assert [t["action"] for t in timeline] == ["create", "submit"]
    assert [c["id"] for c in run("cases", "list", "--json")] == [case_id]
    assert run("cases", "start", str(case_id), code=2).count("submitted") >= 1


@pytest.mark.usefixtures("world")
def test_templates_and_alerts() -> None:
    assert len(run("cases", "templates", "--json")) == 5
    assert run("cases", "alerts", "--json") == {"raised": [], "alerts": []}


@pytest.mark.usefixtures("world")
def test_a_bad_file_names_the_field(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(yaml.safe_dump({"name": "x", "org_code": "C01"}), encoding="utf-8")
    assert "objective" in run("cases", "create", str(file), code=2)
