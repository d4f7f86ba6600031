"""``telmark targeting policy show|set``, ``run``, ``runs``, ``show``, ``explain``, ``export``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from telmark.cli import app
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import seed_org
from tests._factories.segments import load_warehouse, province_directory

RULES = (
    {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 12}},
    {"version": 1, "root": {"kind": "field", "field": "payment_type", "op": "=",
                            "value": "prepaid"}},
)  # fmt: skip
runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("targeting-cli")
    con = load_warehouse(province_directory(root, subscribers=500, seed=8), root / "w.duckdb")
    con.disconnect()
    return "duckdb://" + str(root / "w.duckdb")


@pytest.fixture
def shell(warehouse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse)
    get_settings.cache_clear()
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)


def run(*args: str, json_output: bool = True) -> Any:
    result = runner.invoke(app, ["targeting", *args, *(["--json"] if json_output else [])])
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if json_output else result.output


def _snapshot(tmp_path: Path, i: int, rule: dict[str, object]) -> int:
    path = tmp_path / f"rule{i}.json"
    path.write_text(json.dumps(rule), encoding="utf-8")
    made = runner.invoke(
        app, ["segments", "create", "--name", f"s{i}", "--rule", str(path), "--json"]
    )
    assert made.exit_code == 0, made.output
    segment_id = json.loads(made.output)["id"]
    taken = runner.invoke(app, ["segments", "snapshot", str(segment_id), "--json"])
    assert taken.exit_code == 0, taken.output
    return int(json.loads(taken.output)["id"])


@pytest.mark.usefixtures("shell")
def test_policy_and_a_run_from_the_shell(tmp_path: Path) -> None:
    assert run("policy", "show")["is_default"] is True
    saved = run(
        "policy", "set", "--cap", "1", "--period", "week", "--channel-cap", "sms=1",
        "--min-gap", "0", "--quiet-start", "22:00", "--quiet-end", "08:30", "--note", "cli",
    )  # fmt: skip
    assert (saved["version"], saved["channel_caps"], saved["quiet_start"]) == (
        1, {"sms": 1}, "22:00:00",
    )  # fmt: skip
    bad = runner.invoke(app, ["targeting", "policy", "set", "--cap", "1", "--channel-cap", "sms"])
    assert bad.exit_code == 2
    assert "CHANNEL=N" in bad.output

    snaps = [_snapshot(tmp_path, i, rule) for i, rule in enumerate(RULES)]
    cases = ["--case", f"1:A:{snaps[0]}:5:5000:2000", "--case", f"2:B:{snaps[1]}:7:5000"]
    result = run("run", "--key", "k1", "--on", "2026-10-05", *cases, "--channel", "sms",
                 "--channel", "app_push")  # fmt: skip
    assert result["status"] == "complete"
    assert result["contacts"] > 0
    again = run("run", "--key", "k1", "--on", "2026-10-05", *cases, "--channel", "sms",
                "--channel", "app_push")  # fmt: skip
    assert again["sha256"] == result["sha256"]
    text = run("show", str(result["id"]), json_output=False)
    assert "lost arbitration to another case" in text
    assert [r["run_key"] for r in run("runs")] == ["k1"]

    out = tmp_path / "list.csv"
    exported = runner.invoke(
        app, ["targeting", "export", str(result["id"]), "--out", str(out), "--case", "2"]
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows
    assert {r["case_code"] for r in rows} == {"B"}
    assert all("****" in r["msisdn"] for r in rows)
    explained = run("explain", str(result["id"]), "--subscriber", rows[0]["subscriber_id"])
    assert explained["candidates"][0]["case_code"] == "B"

    wrong = runner.invoke(app, ["targeting", "run", "--key", "k2", "--on", "2026-10-05",
                                "--case", "1:A", "--channel", "sms"])  # fmt: skip
    assert wrong.exit_code == 2
