"""The audit trail over HTTP: who may read and export it, filters, masking, the console page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.audit.domain import PROVINCE_TZ
from telmark.audit.models import AuditEntry
from tests._factories.auth_client import AuthApp, auth_app

A = "13812345678"


@pytest.fixture
def app(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[AuthApp]:
    yield from auth_app(tmp_path, db)


@pytest.fixture
def opt_out(app: AuthApp) -> int:
    """The service agent puts a number on the consent register (an audited create)."""
    csrf = app.login("agent")
    response = app.client.post(
        "/api/consent/entries",
        json={"msisdn": A, "kind": "opt_out", "channel": "sms", "reason": "客户来电"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201
    entry_id: int = response.json()["id"]
    return entry_id


def test_only_auditors_read_and_export(app: AuthApp) -> None:
    assert app.client.get("/api/audit").status_code == 401
    assert app.client.get("/api/audit/export.csv").status_code == 401
    for user in ("analyst", "agent", "city1"):
        app.login(user)
        assert app.client.get("/api/audit").status_code == 403
        assert app.client.get("/api/audit/export.csv").status_code == 403
        assert app.client.get("/audit").status_code == 403
        assert 'href="/audit"' not in app.client.get("/account/password").text  # not in the nav
    app.login("auditor")
    assert app.client.get("/api/audit").status_code == 200
    assert app.client.get("/api/audit/export.csv").status_code == 200
    assert 'href="/audit"' in app.client.get("/account/password").text


def test_filters_and_masking(app: AuthApp, opt_out: int) -> None:
    app.login("auditor")

    def find(**params: str | int) -> Any:
        response = app.client.get("/api/audit", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    found = find(actor="agent", action="create", entity_type="consent_entry")
    (entry,) = found["items"]
    assert entry["entity_id"] == str(opt_out)
    assert (entry["channel"], entry["ip"]) == ("web", "testclient")
    assert entry["after"]["msisdn"] == "138****5678"  # the auditor may not unmask
    assert entry["after"]["reason"] == "客户来电"
    assert entry["masked"] is True
    # Created, then shown in clear to the agent who added it (who may unmask): two entries.
    history = find(entity_type="consent_entry", entity_id=str(opt_out))["items"]
    assert [e["action"] for e in history] == ["read", "create"]
    assert find(text="客户来电", entity_type="consent_entry")["total"] == 1  # Chinese inside JSON
    assert find(text="no such words anywhere")["total"] == 0
    today = datetime.now(PROVINCE_TZ).date()
    assert find(actor="agent", **{"from": str(today - timedelta(days=1))})["total"] >= 1
    assert find(actor="agent", **{"from": str(today + timedelta(days=2))})["total"] == 0
    assert find(actor="agent", to=str(today - timedelta(days=2)))["total"] == 0
    page = find(page_size=2, page=2)
    assert page["page"] == 2
    assert len(page["items"]) == 2
    # An HTML filter form sends empty fields: they mean "any", not an error.
    blank = {"actor": "", "action": "", "entity_type": "", "from": "", "to": "", "text": ""}
    assert find(**blank)["total"] == find()["total"]
    assert app.client.get("/audit", params=blank, headers={"HX-Request": "true"}).status_code == 200
    bad = app.client.get("/api/audit", params={"from": "yesterday"})
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_input")


def test_export_is_excel_ready_masked_and_itself_audited(
    app: AuthApp, db: sessionmaker[Session], opt_out: int
) -> None:
    app.login("auditor")
    response = app.client.get("/api/audit/export.csv", params={"entity_type": "consent_entry"})
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    (created,) = [r for r in rows if r["action"] == "create"]
    assert created["entity_id"] == str(opt_out)
    assert '"msisdn": "138****5678"' in created["after"]
    assert A not in response.text
    with db() as session:
        export = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert export.actor_username == "auditor"
    assert export.after is not None
    assert export.after["filters"] == {"entity_type": "consent_entry"}
    assert export.after["unmasked"] is False


@pytest.mark.usefixtures("opt_out")
def test_console_page(app: AuthApp) -> None:
    app.login("auditor")
    page = app.client.get("/audit", params={"entity_type": "consent_entry"})
    assert page.status_code == 200
    assert "<h1>审计日志</h1>" in page.text
    assert "新增" in page.text  # the action, in Chinese
    assert "138****5678" in page.text
    assert A not in page.text
    assert "/api/audit/export.csv?entity_type=consent_entry" in page.text
    fragment = app.client.get("/audit", params={"actor": "nobody"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert "没有符合筛选条件的记录" in fragment.text
    english = app.client.get("/audit", params={"lang": "en", "action": "create"})
    assert "Added" in english.text
