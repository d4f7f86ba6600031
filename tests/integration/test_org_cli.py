"""``telmark org``: sync from the warehouse, browse, --json, errors (default SQLite database)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from telmark.cli import app
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from telmark.warehouse.connection import connect
from telmark.warehouse.derived import refresh_org_closure
from tests.integration.test_org_service import STAFF, UNITS

runner = CliRunner()


@pytest.fixture
def warehouse_with_org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse holding the org_units and staff tables of the service tests."""
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", f"duckdb://{path}")
    get_settings.cache_clear()
    con = connect()
    con.create_table(
        "org_units",
        pa.table(
            {
                "org_id": [u.code for u in UNITS],
                "parent_id": [u.parent_code for u in UNITS],
                "kind": [str(u.kind) for u in UNITS],
                "name": [u.name for u in UNITS],
                "name_en": [u.name_en for u in UNITS],
            }
        ),
    )
    con.create_table(
        "staff",
        pa.table(
            {
                "staff_id": [s.code for s in STAFF],
                "name": [s.name for s in STAFF],
                "org_id": [s.org_code for s in STAFF],
                "level": [s.level for s in STAFF],
                "grade": [s.grade for s in STAFF],
                "position": [s.position for s in STAFF],
                "hired_date": [s.hired_date for s in STAFF],
            }
        ),
    )
    refresh_org_closure(con)
    con.disconnect()
    upgrade_database()
    return path


def _json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.usefixtures("warehouse_with_org")
def test_sync_then_browse() -> None:
    first = _json("org", "sync")
    assert first == {
        "units_created": 7,
        "units_updated": 0,
        "units_deactivated": 0,
        "staff_created": 4,
        "staff_updated": 0,
        "staff_deactivated": 0,
    }
    again = _json("org", "sync")
    assert isinstance(again, dict)
    assert again["units_created"] == 0
    tree = _json("org", "tree", "--root", "C01")
    assert isinstance(tree, list)
    assert [u["code"] for u in tree] == ["C01", "C01D01", "C01D01G001", "C01D01O001"]
    shown = _json("org", "show", "C01D01O001")
    assert isinstance(shown, dict)
    assert [a["name"] for a in shown["ancestors"]] == ["江苏省公司", "南京分公司", "玄武区"]
    staff = _json("org", "staff", "C01", "--all-below")
    assert isinstance(staff, list)
    assert [s["code"] for s in staff] == ["E002", "E003"]
    human = runner.invoke(app, ["org", "tree", "--depth", "1"])
    assert human.exit_code == 0
    assert "南京分公司" in human.stdout


@pytest.mark.usefixtures("warehouse_with_org")
def test_unknown_unit_is_a_clear_error() -> None:
    _json("org", "sync")
    result = runner.invoke(app, ["org", "show", "C99"])
    assert result.exit_code == 2
    assert "org unit C99 not found" in result.output


def test_sync_without_org_data_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", f"duckdb://{tmp_path / 'empty.duckdb'}")
    get_settings.cache_clear()
    upgrade_database()
    result = runner.invoke(app, ["org", "sync"])
    assert result.exit_code == 2
    assert "no org_units table" in result.output
