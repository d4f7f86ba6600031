"""``telmark segments create|list|show|update|clone|archive|count|sample`` (default SQLite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int]:
    root = tmp_path_factory.mktemp("segment-store-cli")
    con = load_warehouse(province_directory(root, subscribers=400, seed=5), root / "w.duckdb")
    prepaid = count(con, parse_rule(PREPAID))
    postpaid = count(con, parse_rule(POSTPAID))
    con.disconnect()
    return "duckdb://" + str(root / "w.duckdb"), prepaid, postpaid


@pytest.fixture
def counts(warehouse: tuple[str, int, int], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse[0])
    get_settings.cache_clear()
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
    return warehouse[1], warehouse[2]


def run(*args: str) -> Any:
    result = runner.invoke(app, ["segments", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_segment_lifecycle_from_the_shell(counts: tuple[int, int], tmp_path: Path) -> None:
    prepaid_file = tmp_path / "prepaid.json"
    prepaid_file.write_text(json.dumps(PREPAID), encoding="utf-8")
    postpaid_file = tmp_path / "postpaid.yaml"
    postpaid_file.write_text(
        'version: 1\nroot: {kind: field, field: payment_type, op: "=", value: postpaid}\n',
        encoding="utf-8",
    )
    created = run("create", "--name", "预付费", "--rule", str(prepaid_file), "--org", "C01")
    assert (created["org_code"], created["current_version"]) == ("C01", 1)
    sid = str(created["id"])
    assert run("count", sid)["count"] == counts[0]
    updated = run("update", sid, "--rule", str(postpaid_file), "--note", "后付费")
    assert updated["current_version"] == 2
    assert run("count", sid)["count"] == counts[1]
    assert [v["version"] for v in run("versions", sid)] == [1, 2]
    copy = run("clone", sid)
    assert copy["rule"] == POSTPAID
    assert run("archive", sid)["status"] == "archived"
    assert run("count", sid)["count"] == counts[1]  # archived segments still count
    assert {s["id"] for s in run("list", "--status", "active")} == {copy["id"]}
    assert run("show", sid)["status"] == "archived"
    # A rule file may refer to a saved segment: "postpaid, but not in the copy" is empty.
    referring = tmp_path / "not-copy.json"
    referring.write_text(
        json.dumps(
            {
                "version": 1,
                "root": {
                    "all": [
                        POSTPAID["root"],
                        {"not": {"kind": "segment", "segment_id": copy["id"]}},
                    ]
                },
            }
        ),
        encoding="utf-8",
    )
    assert run("count", "--rule", str(referring))["count"] == 0
    assert run("count", "--rule", str(postpaid_file))["count"] == counts[1]

    masked = run("sample", sid, "--n", "4")
    assert masked["count"] == counts[1]
    assert len(masked["members"]) == 4
    assert all("*" in m["msisdn"] for m in masked["members"])
    with UnitOfWork() as uow:
        assert (
            uow.session.scalars(select(AuditEntry.id).where(AuditEntry.action == "read")).all()
            == []
        )
    clear = run("sample", sid, "--n", "4", "--unmask")
    assert all("*" not in m["msisdn"] for m in clear["members"])
    with UnitOfWork() as uow:
        reads = uow.session.scalars(
            select(AuditEntry.summary).where(AuditEntry.action == "read")
        ).all()
    assert reads == [f"sample of segment {sid}"]


def test_bad_rule_file_fails_naming_the_node(counts: tuple[int, int], tmp_path: Path) -> None:
    assert counts[0] > 0
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"version": 1, "root": {"any": [{"kind": "tenure_months", "op": "~"}]}}),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["segments", "create", "--name", "x", "--rule", str(bad)])
    assert result.exit_code == 2
    assert "root.any[0]" in result.output
    assert run("list") == []
    neither = runner.invoke(app, ["segments", "count"])
    assert neither.exit_code == 2
