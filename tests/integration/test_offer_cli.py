"""``telmark offers``: create from a file, activate, redeem, draw, replay, economics (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ibis
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints
from typer.testing import CliRunner

from telmark.cli import app
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.offers import add_products, gift, lottery, offer_doc, subscriber_table

runner = CliRunner()


@pytest.fixture(autouse=True)
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        add_products(uow.session)
        uow.commit()
    path = tmp_path / "warehouse.duckdb"
    con = ibis.duckdb.connect(str(path))
    con.create_table("subscribers", subscriber_table([(1, "C01"), (2, "C02")]))
    con.disconnect()
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", f"duckdb://{path}")
    from telmark.config import get_settings

    get_settings.cache_clear()


def run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_create_activate_redeem_draw_replay(tmp_path: Path) -> None:
    doc = offer_doc("L1", gift(3), lottery(("phone", 1_000_000, 100, 1), budget_fen=1_000))
    file = tmp_path / "offer.yaml"
    file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    created = run("offers", "create", str(file), "--json")
    assert (created["code"], created["status"]) == ("L1", "draft")
    assert run("offers", "activate", "L1", "--json")["status"] == "active"
    assert [o["code"] for o in run("offers", "list", "--json")] == ["L1"]
    assert run("offers", "show", "L1", "--json")["tool_costs"][1] == {
        "tool": "lottery",
        "expected_cost_fen": 100,
    }

    redeemed = run("offers", "redeem", "L1", "1", "--key", "k1", "--json")
    assert redeemed["draw"]["outcome"] == "phone"
    assert run("offers", "redeem", "L1", "1", "--key", "k1", "--json")["created"] is False
    draw = run("offers", "draw", "L1", "2", "--key", "k2", "--json")
    assert draw["outcome"] == "no_prize"  # the only phone went to subscriber 1
    replay = run("offers", "replay", str(draw["id"]), "--json")
    assert replay["matches"] is True
    human = runner.invoke(app, ["offers", "replay", str(redeemed["draw"]["id"])])
    assert human.exit_code == 0
    assert "matches the record" in human.output
    pools = {p["key"]: p["remaining"] for p in run("offers", "pools", "L1", "--json")}
    assert pools == {"gift": 1, "lottery": 900, "prize:phone": 0}
    for command in (
        ["list"],
        ["show", "L1"],
        ["pools", "L1"],
        ["redeem", "L1", "2", "--key", "k2"],
    ):
        shown = runner.invoke(app, ["offers", *command])
        assert shown.exit_code == 0, shown.output
        assert "L1" in shown.output
    referral = offer_doc(
        "R1",
        {"tool": "referral", "referrer_reward_fen": 2_000, "referee_reward_fen": 1_000,
         "cap_per_referrer": 1},
    )  # fmt: skip
    file.write_text(json.dumps(referral), encoding="utf-8")
    run("offers", "create", str(file), "--json")
    run("offers", "activate", "R1", "--json")
    referred = runner.invoke(app, ["offers", "redeem", "R1", "1", "--key", "q1", "--referrer", "2"])
    assert referred.exit_code == 0, referred.output
    assert "referred by 2: rewarded" in referred.output
    over = run("offers", "redeem", "R1", "2", "--key", "q2", "--referrer", "1", "--json")
    assert over["referrer_rewarded"] is True  # referrer 1 has a cap of their own
    missing = runner.invoke(app, ["offers", "redeem", "L1", "99", "--key", "k3"])
    assert missing.exit_code == 2
    assert "no subscriber 99" in missing.output


def test_file_errors_name_the_field_and_economics_preview(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    doc = offer_doc("B1", {"tool": "red_packet", "amount_fen": 500, "validity_days": 0,
                           "total_budget_fen": 1_000})  # fmt: skip
    bad.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(app, ["offers", "create", str(bad)])
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "bad.json: tools[0].validity_days: Input should be greater than or equal to 1" in output
    assert run("offers", "list", "--json") == []

    good = tmp_path / "good.json"
    good.write_text(json.dumps(offer_doc("G1", gift(1, 3_600))), encoding="utf-8")
    preview = run("offers", "economics", str(good), "--json")
    assert preview["incentive_cost_fen"] == 3_600
    assert preview["payback_months"] == 2  # 3600 / (2000 - 200) a month
    no_lottery = runner.invoke(app, ["offers", "draw", "G1", "1", "--key", "x"])
    assert no_lottery.exit_code == 2  # not saved: no such offer
    human = runner.invoke(app, ["offers", "create", str(good)])
    assert human.exit_code == 0
    assert "payback" in human.output
    assert "2 months" in human.output
    assert run("offers", "economics", "G1", "--json") == preview
    assert run("offers", "retire", "G1", "--json")["status"] == "retired"
