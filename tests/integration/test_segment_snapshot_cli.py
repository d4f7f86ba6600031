"""``telmark segments profile|overlap|trend|snapshot|snapshots|export`` (default SQLite)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from telmark.audit.models import AuditEntry
from telmark.cli import app
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from telmark.segments.compile import count
from telmark.segments.rules import parse_rule
from telmark.uow import UnitOfWork
from tests._factories.auth import seed_org
from tests._factories.segments import load_warehouse, province_directory

PREPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
}
POSTPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
}
runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    root = tmp_path_factory.mktemp("segment-snapshot-cli")
    con = load_warehouse(province_directory(root, subscribers=400, seed=5), root / "w.duckdb")
    prepaid = count(con, parse_rule(PREPAID))
    con.disconnect()
    return "duckdb://" + str(root / "w.duckdb"), prepaid


@pytest.fixture
def prepaid_count(
    warehouse: tuple[str, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> int:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse[0])
    monkeypatch.setenv("TELMARK_SNAPSHOT_DIR", str(tmp_path / "frozen"))
    get_settings.cache_clear()
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
    return warehouse[1]


def run(*args: str) -> Any:
    result = runner.invoke(app, ["segments", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _segment(tmp_path: Path, name: str, rule: dict[str, object]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(rule), encoding="utf-8")
    return str(run("create", "--name", name, "--rule", str(path))["id"])


def test_analytics_from_the_shell(prepaid_count: int, tmp_path: Path) -> None:
    prepaid = _segment(tmp_path, "prepaid", PREPAID)
    postpaid = _segment(tmp_path, "postpaid", POSTPAID)
    profile = run("profile", prepaid)
    assert profile["size"] == prepaid_count
    matrix = run("overlap", prepaid, postpaid)
    assert matrix["sizes"][0] == prepaid_count
    assert matrix["intersections"][0][1] == 0
    trend = run("trend", prepaid, "--months", "2")
    assert [p["count"] for p in trend["points"]][-1] == prepaid_count
    plain = runner.invoke(app, ["segments", "trend", prepaid, "--months", "2"])
    assert plain.exit_code == 0
    assert f"{prepaid_count:,}" in plain.output
    bad = runner.invoke(app, ["segments", "trend", prepaid, "--months", "0"])
    assert bad.exit_code == 2
    assert "months" in bad.output
    alone = runner.invoke(app, ["segments", "overlap", prepaid])
    assert alone.exit_code == 2
    assert "segment_ids" in alone.output


def test_snapshot_and_export_from_the_shell(prepaid_count: int, tmp_path: Path) -> None:
    segment = _segment(tmp_path, "prepaid", PREPAID)
    taken = run("snapshot", segment, "--key", "nightly-2026-09")
    assert taken["status"] == "ready"
    assert taken["member_count"] == prepaid_count
    assert run("snapshot", segment, "--key", "nightly-2026-09")["id"] == taken["id"]
    assert [s["id"] for s in run("snapshots", segment)] == [taken["id"]]
    files = list((tmp_path / "frozen").rglob("*.parquet"))
    assert len(files) == 1  # written under TELMARK_SNAPSHOT_DIR

    sid = str(taken["id"])
    out = tmp_path / "list.csv"
    written = run("export", sid, "--out", str(out))
    assert (written["rows"], written["path"], written["unmasked"]) == (
        prepaid_count,
        str(out),
        False,
    )
    text = out.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert len(rows) == prepaid_count
    assert all("*" in r["msisdn"] for r in rows)

    parquet = tmp_path / "list.parquet"
    run(
        "export",
        sid,
        "--format",
        "parquet",
        "--out",
        str(parquet),
        "--unmask",
        "--columns",
        "subscriber_id,msisdn,plan_name",
    )
    table = pq.read_table(parquet)
    assert table.column_names == ["subscriber_id", "msisdn", "plan_name"]
    assert table.num_rows == prepaid_count
    assert all("*" not in m for m in table.column("msisdn").to_pylist())
    with UnitOfWork() as uow:
        audited = uow.session.execute(
            select(AuditEntry.entity_id, AuditEntry.after).where(AuditEntry.action == "export")
        ).all()
    assert [(e[0], (e[1] or {})["unmasked"]) for e in audited] == [(sid, False), (sid, True)]

    unknown = runner.invoke(app, ["segments", "export", sid, "--out", str(out), "--columns", "x"])
    assert unknown.exit_code == 2
    assert "columns" in unknown.output
    nowhere = runner.invoke(
        app, ["segments", "export", sid, "--out", str(tmp_path / "missing" / "x.csv")]
    )
    assert nowhere.exit_code == 2
    assert "--out" in nowhere.output
    absent = runner.invoke(app, ["segments", "export", "999", "--out", str(out)])
    assert absent.exit_code == 2
    assert "snapshot 999 not found" in absent.output
