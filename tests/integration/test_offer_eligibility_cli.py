"""``telmark offers eligible``: JSON and table output, --all, --date, errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from telmark.catalog import service as catalog_service
from telmark.catalog.seed import DEMO_TERMS
from telmark.cli import app
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from telmark.offers import service as offer_service
from telmark.offers.schemas import parse_offer
from telmark.uow import UnitOfWork
from tests._factories.offers import gift
from tests._factories.segments import load_warehouse, province_directory

runner = CliRunner()


@pytest.fixture
def line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    path = tmp_path / "w.duckdb"
    con = load_warehouse(province_directory(tmp_path, subscribers=400, seed=5), path)
    s = con.table("subscribers")
    row: dict[str, Any] = (
        s.filter(s.status == "active", s.payment_type == "postpaid")
        .select("subscriber_id", "msisdn", "plan_id")
        .order_by("subscriber_id")
        .limit(1)
        .to_pyarrow()
        .to_pylist()[0]
    )
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", f"duckdb://{path}")
    get_settings.cache_clear()
    upgrade_database()
    with UnitOfWork() as uow:
        catalog_service.sync_from_warehouse(uow=uow, con=con, terms=DEMO_TERMS)
        for code, products, status in (
            ("HOLD", [row["plan_id"]], "active"),
            ("LATER", ["TV015"], None),
        ):
            doc = {
                "code": code,
                "name": f"活动{code}",
                "action": "new",
                "product_codes": products,
                "valid_from": "2026-01-01",
                "tools": [gift(5)],
                "economics": {"incremental_monthly_revenue_fen": 1_000},
            }
            offer_service.create_offer(uow=uow, spec=parse_offer(doc))
            if status:
                offer_service.activate_offer(uow=uow, code=code)
    con.disconnect()
    return row


def test_eligible_json_all_and_date(line: dict[str, Any]) -> None:
    result = runner.invoke(
        app, ["offers", "eligible", line["msisdn"], "--json", "--date", "2026-09-30"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["on"] == "2026-09-30"
    assert body["line"]["subscriber_id"] == line["subscriber_id"]
    assert body["line"]["msisdn"] != line["msisdn"]  # masked without --unmask
    [hold] = body["offers"]
    assert hold["code"] == "HOLD"
    assert [r["code"] for r in hold["reasons"]] == ["already_holds"]

    every = runner.invoke(
        app,
        ["offers", "eligible", "--subscriber-id", str(line["subscriber_id"]), "--all", "--json"],
    )
    assert every.exit_code == 0, every.output
    codes = {
        o["code"]: [r["code"] for r in o["reasons"]] for o in json.loads(every.output)["offers"]
    }
    assert "not_on_sale" in codes["LATER"]

    table = runner.invoke(app, ["offers", "eligible", line["msisdn"]])
    assert table.exit_code == 0, table.output
    assert "HOLD" in table.output
    assert "already holds" in table.output


def test_bad_input_names_the_field(line: dict[str, Any]) -> None:
    bad = runner.invoke(app, ["offers", "eligible", "12345"])
    assert bad.exit_code == 2
    assert "11-digit" in bad.output
    assert "field=msisdn" in bad.output
    missing = runner.invoke(app, ["offers", "eligible", "--subscriber-id", "99999999"])
    assert missing.exit_code == 2
    assert "no subscriber" in missing.output
    assert line["msisdn"] not in missing.output
