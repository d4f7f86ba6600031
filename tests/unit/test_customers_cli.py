"""``telmark customers``: the 360 view and number lookup on the CLI, masked unless --unmask.

The CLI reads with server rights as ``cli:<os user>``; unmasked views and
every lookup by number land in the audit trail (default SQLite database).
"""

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
from telmark.uow import UnitOfWork
from tests._factories.customers import build_customer_warehouse

runner = CliRunner()


@pytest.fixture(autouse=True)
def _stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", build_customer_warehouse(tmp_path).url)
    get_settings.cache_clear()
    upgrade_database()


def _reads() -> list[dict[str, Any]]:
    with UnitOfWork() as uow:
        stmt = select(AuditEntry).where(AuditEntry.action == "read").order_by(AuditEntry.id)
        return [
            {
                "actor": e.actor_username,
                "channel": e.channel,
                "entity_id": e.entity_id,
                "summary": e.summary,
                "after": e.after,
            }
            for e in uow.session.scalars(stmt)
        ]


def test_show_is_masked_json_by_default() -> None:
    result = runner.invoke(app, ["customers", "show", "8", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["identity"]["msisdn"] == "139****0008"  # the CLI sees every city
    assert data["value"]["value"]["value_tier"] == "vip"
    assert data["churn"]["state"] == "not_scored"
    assert _reads() == []


def test_show_unmasked_is_audited_as_the_cli_user() -> None:
    result = runner.invoke(app, ["customers", "show", "1", "--unmask"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "13900000001" in result.stdout
    assert "王经理" in result.stdout
    assert "gold, RFM 13" in result.stdout
    assert "Usage by month" in result.stdout
    [entry] = _reads()
    assert entry["actor"].startswith("cli:")
    assert (entry["channel"], entry["entity_id"], entry["summary"]) == ("cli", "1", "customer 360")


def test_find_by_number_is_audited() -> None:
    result = runner.invoke(app, ["customers", "find", "--msisdn", "13900000001", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(c["subscriber_id"], c["msisdn"]) for c in data["items"]] == [(1, "139****0001")]
    [entry] = _reads()
    assert entry["summary"] == "customer search by mobile number"
    assert entry["after"]["ids"] == ["1"]


def test_errors_exit_2_with_the_reason() -> None:
    missing = runner.invoke(app, ["customers", "show", "999"], env={"COLUMNS": "200"})
    assert missing.exit_code == 2
    assert "no subscriber 999" in missing.output
    bad = runner.invoke(app, ["customers", "find", "--msisdn", "123"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2
    assert "field=msisdn" in bad.output
    assert _reads() == []
