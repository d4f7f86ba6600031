"""``telmark consent`` and ``telmark audit``: masked by default, ``--unmask`` audited (SQLite)."""

from __future__ import annotations

import csv
import getpass
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from telmark.audit.models import AuditEntry
from telmark.cli import app
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork

runner = CliRunner()
A, B = "13812345678", "13987654321"
CLI_USER = f"cli:{getpass.getuser()}"


@pytest.fixture(autouse=True)
def _database() -> None:
    upgrade_database()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def audit(action: str) -> list[AuditEntry]:
    with UnitOfWork() as uow:
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        found = list(uow.session.scalars(stmt))
        uow.session.expunge_all()
        return found


def numbers(path: Path) -> set[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["msisdn"] for row in csv.DictReader(handle)}


def test_consent_cli_masks_unless_unmask_which_is_audited(tmp_path: Path) -> None:
    added = json.loads(run("consent", "add", A, "--kind", "opt_out", "--channel", "sms", "--json"))
    assert added["msisdn"] == "138****5678"
    run("consent", "add", B, "--kind", "blacklist", "--channel", "all", "--reason", "通报")
    (created, _) = audit("create")
    assert created.actor_username == CLI_USER
    assert created.channel == "cli"

    masked = json.loads(run("consent", "list", "--json"))
    assert {e["msisdn"] for e in masked["items"]} == {"138****5678", "139****4321"}
    assert "13812345678" not in run("consent", "list")
    assert audit("read") == []

    clear = json.loads(run("consent", "list", "--unmask", "--json"))
    assert {e["msisdn"] for e in clear["items"]} == {A, B}
    (read,) = audit("read")
    assert (read.actor_username, read.channel, read.entity_type) == (
        CLI_USER,
        "cli",
        "consent_entry",
    )

    out = tmp_path / "consent.csv"
    run("consent", "export", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert numbers(out) == {"138****5678", "139****4321"}
    run("consent", "export", str(out), "--unmask")
    assert numbers(out) == {A, B}
    assert [e.after["unmasked"] for e in audit("export") if e.after] == [False, True]


def test_consent_cli_import_revoke_check_summary(tmp_path: Path) -> None:
    file = tmp_path / "dnd.csv"
    file.write_bytes(f"msisdn,kind,channel,reason\n{A},dnd,outbound_call,免打扰\n".encode("gbk"))
    assert "1 added" in run("consent", "import", str(file))
    assert "imported before" in run("consent", "import", str(file))
    bad = tmp_path / "bad.csv"
    bad.write_text("msisdn,kind,channel\n123,dnd,all\n", encoding="utf-8")
    rejected = runner.invoke(app, ["consent", "import", str(bad)])
    assert rejected.exit_code == 2
    assert "row=2" in rejected.output
    assert "column=msisdn" in rejected.output

    blocked = runner.invoke(app, ["consent", "check", A, "--channel", "outbound_call", "--json"])
    assert blocked.exit_code == 1
    result = json.loads(blocked.output)
    assert (result["contactable"], result["msisdn"]) == (False, "138****5678")
    counts = json.loads(run("consent", "summary", "--json"))["blocked"]
    assert (counts["outbound_call"], counts["sms"], counts["all"]) == (1, 0, 1)

    entry_id = result["blocking"][0]["id"]
    run("consent", "revoke", str(entry_id))
    assert runner.invoke(app, ["consent", "check", A, "--channel", "outbound_call"]).exit_code == 0


def test_audit_cli_lists_exports_and_unmasks_with_a_trace(tmp_path: Path) -> None:
    run("consent", "add", A, "--kind", "dnd", "--channel", "all")
    listed = json.loads(run("audit", "list", "--entity-type", "consent_entry", "--json"))
    (created,) = listed["items"]
    assert created["after"]["msisdn"] == "138****5678"
    assert "138****5678" in run("audit", "list", "--action", "create")
    assert audit("read") == []
    clear = json.loads(run("audit", "list", "--action", "create", "--unmask", "--json"))
    assert clear["items"][0]["after"]["msisdn"] == A
    (read,) = audit("read")
    assert read.actor_username == CLI_USER
    assert read.entity_type == "audit_entry"

    out = tmp_path / "audit.csv"
    run("audit", "export", str(out), "--action", "create")
    text = out.read_text(encoding="utf-8-sig")
    assert "138****5678" in text
    assert A not in text
    (export,) = audit("export")
    assert export.actor_username == CLI_USER
    empty = json.loads(run("audit", "list", "--from", "2000-01-01", "--to", "2000-01-02", "--json"))
    assert empty["total"] == 0
