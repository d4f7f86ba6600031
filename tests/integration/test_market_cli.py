"""``telmark market``: offers and shares from the shell, --json, errors (default SQLite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from telmark.cli import app
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import seed_org

runner = CliRunner()


@pytest.fixture(autouse=True)
def org_tree() -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)


def run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_offers_add_list_delete_as_json() -> None:
    added = run(
        "market", "offers", "add", "--competitor", "china_unicom", "--name", "冰激凌129",
        "--monthly-fee-fen", "12900", "--launched-on", "2026-01-01", "--city", "C01", "--5g",
        "--json",
    )  # fmt: skip
    assert (added["org_code"], added["is_5g"], added["created_by"][:4]) == ("C01", True, "cli:")
    listed = run("market", "offers", "list", "--city", "C01", "--json")
    assert [o["name"] for o in listed] == ["冰激凌129"]
    run("market", "offers", "delete", str(added["id"]), "--json")
    assert run("market", "offers", "list", "--json") == []


def test_shares_import_and_the_100_percent_rule(tmp_path: Path) -> None:
    good = tmp_path / "shares.csv"
    good.write_bytes(
        "org_code,month,competitor,share_bp,source\nC01,2026-05,china_unicom,6000,工信部\n".encode(
            "gbk"
        )
    )
    report = run("market", "shares", "import", str(good), "--json")
    assert report == {"file_name": "shares.csv", "encoding": "gb18030", "rows": 1, "added": 1}
    refused = runner.invoke(
        app,
        ["market", "shares", "add", "--city", "C01", "--month", "2026-05",
         "--competitor", "china_telecom", "--share-bp", "4001"],
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "100.01%" in refused.output
    bad = tmp_path / "bad.csv"
    bad.write_text("org_code,month,competitor,share_bp\nC01,2026-13,other,1\n")
    rejected = runner.invoke(app, ["market", "shares", "import", str(bad)])
    assert rejected.exit_code != 0
    assert "bad.csv" in rejected.output
    assert "row 2" in rejected.output
    assert "column month" in rejected.output
    listed = run("market", "shares", "list", "--city", "C01", "--json")
    assert [(s["competitor"], s["share_bp"]) for s in listed] == [("china_unicom", 6000)]
