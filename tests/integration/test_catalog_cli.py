"""``telmark catalog``: list, show, create (options and YAML), version, price, retire, sync,
order-price."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from telmark.catalog.service import province_today
from telmark.cli import app
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from tests._factories.catalog import catalog_warehouse, order_row

runner = CliRunner()


@pytest.fixture(autouse=True)
def database() -> None:
    upgrade_database()


def run(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_create_version_price_and_retire_from_the_shell(tmp_path: Path) -> None:
    made = run(
        "catalog", "create", "--code", "BB300", "--name", "家庭宽带300M", "--kind", "broadband",
        "--family", "broadband", "--fee", "6000", "--speed-mbps", "300",
        "--valid-from", "2025-01-01",
    )  # fmt: skip
    assert (made["code"], made["created_by"][:4]) == ("BB300", "cli:")
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(
        "code: BD100\nname: 宽带融合100元\nkind: bundle\nfamily: converged\n"
        "version:\n  valid_from: 2025-01-01\n  monthly_fee_fen: 10000\n  speed_mbps: 300\n"
        "  components:\n    - {code: BB300, fee_share_fen: 6000}\n"
        "    - {code: BB300, fee_share_fen: 4000}\n",
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["catalog", "create", "--file", str(bundle)])
    assert refused.exit_code == 2
    assert "components[1].code" in refused.output
    assert "listed twice" in refused.output

    tomorrow = (province_today() + timedelta(days=1)).isoformat()
    changed = run("catalog", "version", "BB300", "--fee", "5000", "--speed-mbps", "500",
                  "--valid-from", tomorrow, "--note", "提速降费")  # fmt: skip
    assert [v["monthly_fee_fen"] for v in changed["versions"]] == [6_000, 5_000]
    assert run("catalog", "price", "BB300")["monthly_fee_fen"] == 6_000
    assert run("catalog", "price", "BB300", "--on", tomorrow)["version"] == 2
    listed = run("catalog", "list", "--kind", "broadband")
    assert [(p["code"], p["current"]["version"]) for p in listed] == [("BB300", 1)]
    assert run("catalog", "retire", "BB300")["status"] == "retired"
    shown = run("catalog", "show", "BB300")
    assert shown["retired_on"] == province_today().isoformat()

    missing = runner.invoke(app, ["catalog", "price", "NOPE"])
    assert missing.exit_code == 2
    assert "product NOPE not found" in missing.output


def test_sync_from_the_warehouse_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    placed = datetime(2026, 10, 14, 3, 0, tzinfo=UTC)
    warehouse = catalog_warehouse(tmp_path, [order_row(501, "BD239", placed)])
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse.url)
    get_settings.cache_clear()
    first = run("catalog", "sync")
    assert first["existing"] == 0
    assert "BD239" in first["created"]
    assert run("catalog", "sync") == {"created": [], "existing": len(first["created"])}
    fee = run("catalog", "price", "BD239")["monthly_fee_fen"]
    assert run("catalog", "order-price", "501") == {
        "order_id": 501,
        "product_code": "BD239",
        "ordered_on": "2026-10-14",
        "version": 1,
        "monthly_fee_fen": fee,
    }
    missing = runner.invoke(app, ["catalog", "order-price", "502"])
    assert missing.exit_code == 2
    assert "order 502 not found" in missing.output
    bundle = run("catalog", "show", "BD239")
    # Without the demo terms a synced bundle carries what the warehouse knows: no components.
    assert bundle["versions"][0]["source"] == "warehouse"
    assert bundle["versions"][0]["components"] == []
