"""Consent register over HTTP: rights, masking (and auditing of unmasked views), CSV, console."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.audit.models import AuditEntry
from tests._factories.auth_client import AuthApp, auth_app

A, B = "13812345678", "13987654321"


@pytest.fixture
def app(tmp_path: Path, db: sessionmaker[Session]) -> Iterator[AuthApp]:
    yield from auth_app(tmp_path, db)


def audit(db: sessionmaker[Session], actor: str, action: str) -> list[AuditEntry]:
    with db() as session:
        stmt = select(AuditEntry).where(
            AuditEntry.actor_username == actor, AuditEntry.action == action
        )
        return list(session.scalars(stmt.order_by(AuditEntry.id)))


def add(
    app: AuthApp, msisdn: str, kind: str = "opt_out", channel: str = "sms"
) -> dict[str, object]:
    """Add an entry as the service agent (who may manage consent and unmask)."""
    csrf = app.login("agent")
    response = app.client.post(
        "/api/consent/entries",
        json={"msisdn": msisdn, "kind": kind, "channel": channel, "reason": "来电要求"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_rights(app: AuthApp) -> None:
    assert app.client.get("/api/consent/entries").status_code == 401
    app.login("auditor")  # reads the audit trail, not the register
    assert app.client.get("/api/consent/entries").status_code == 403
    csrf = app.login("analyst")  # may read, not change
    assert app.client.get("/api/consent/entries").status_code == 200
    denied = app.client.post(
        "/api/consent/entries",
        json={"msisdn": A, "kind": "dnd", "channel": "all"},
        headers={"X-CSRF-Token": csrf},
    )
    assert denied.status_code == 403
    assert (
        app.client.post(
            "/api/consent/entries/1/revoke", json={}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 403
    )
    csrf = app.login("agent")
    missing_csrf = app.client.post(
        "/api/consent/entries", json={"msisdn": A, "kind": "dnd", "channel": "all"}
    )
    assert missing_csrf.status_code == 403


def test_list_is_masked_without_unmask_and_audited_with_it(
    app: AuthApp, db: sessionmaker[Session]
) -> None:
    added = add(app, A)
    assert (added["msisdn"], added["masked"]) == (A, False)  # the agent may unmask
    add(app, B, "blacklist", "all")

    app.login("analyst")
    masked = app.client.get("/api/consent/entries").json()
    assert {e["msisdn"] for e in masked["items"]} == {"138****5678", "139****4321"}
    assert all(e["masked"] for e in masked["items"])
    assert audit(db, "analyst", "read") == []

    blank = {"msisdn": "", "kind": "", "channel": "", "status": ""}  # an HTML form's "any"
    assert app.client.get("/api/consent/entries", params=blank).json()["total"] == 2
    page = app.client.get("/consent", params=blank, headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert app.client.get("/api/consent/entries", params={"kind": "spam"}).status_code == 422

    app.login("agent")
    clear = app.client.get("/api/consent/entries", params={"kind": "blacklist"}).json()
    assert [e["msisdn"] for e in clear["items"]] == [B]
    (read,) = [e for e in audit(db, "agent", "read") if e.after and e.after.get("filters")]
    assert (read.channel, read.entity_type) == ("web", "consent_entry")
    assert read.after is not None
    assert read.after["filters"]["kind"] == "blacklist"


def test_csv_export_masked_and_unmasked_both_audited(
    app: AuthApp, db: sessionmaker[Session]
) -> None:
    add(app, A)
    for user, expected in (("analyst", "138****5678"), ("agent", A)):
        app.login(user)
        response = app.client.get("/api/consent/export.csv")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert response.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert [r["msisdn"] for r in rows] == [expected]
        assert rows[0]["reason"] == "来电要求"
        (export,) = audit(db, user, "export")
        assert export.after is not None
        assert export.after["unmasked"] is (user == "agent")


def test_import_over_http(app: AuthApp) -> None:
    csrf = app.login("agent")
    good = f"msisdn,kind,channel\n{A},dnd,all\n{B},opt_out,sms\n".encode("gbk")
    bad = b"msisdn,kind,channel\n13812345678,dnd,fax\n"

    def upload(data: bytes) -> dict[str, object]:
        response = app.client.post(
            "/api/consent/imports",
            files={"file": ("optouts.csv", data, "text/csv")},
            headers={"X-CSRF-Token": csrf},
        )
        body: dict[str, object] = response.json()
        body["status"] = response.status_code
        return body

    rejected = upload(bad)
    assert rejected["status"] == 422
    assert rejected["details"] == [
        {"file": "optouts.csv", "row": 2, "column": "channel", "value": "fax",
         "reason": "must be one of sms, email, app_push, outbound_call, frontline, all"},
    ]  # fmt: skip
    first = upload(good)
    assert (first["status"], first["added"], first["repeated"]) == (200, 2, False)
    again = upload(good)
    assert (again["added"], again["repeated"]) == (0, True)
    listed = app.client.get("/api/consent/entries").json()
    assert listed["total"] == 2


def test_revoke_and_check(app: AuthApp) -> None:
    entry = add(app, B, "blacklist", "all")
    csrf = app.login("agent")
    check = app.client.get("/api/consent/check", params={"msisdn": B, "channel": "sms"}).json()
    assert (check["contactable"], len(check["blocking"])) == (False, 1)
    url = f"/api/consent/entries/{entry['id']}/revoke"
    no_reason = app.client.post(url, json={}, headers={"X-CSRF-Token": csrf})
    assert no_reason.status_code == 422
    lifted = app.client.post(url, json={"reason": "通报撤销"}, headers={"X-CSRF-Token": csrf})
    assert lifted.json()["in_force"] is False
    check = app.client.get("/api/consent/check", params={"msisdn": B, "channel": "sms"}).json()
    assert check["contactable"] is True
    assert (
        app.client.post(url, json={"reason": "x"}, headers={"X-CSRF-Token": csrf}).status_code
        == 409
    )


def test_console_page_masks_and_offers_forms_to_managers(app: AuthApp) -> None:
    add(app, A)
    app.login("analyst")
    page = app.client.get("/consent")
    assert page.status_code == 200
    assert "同意与免打扰" in page.text or "营销退订" in page.text
    assert "138****5678" in page.text
    assert A not in page.text
    assert 'action="/consent/entries"' not in page.text  # no add form
    fragment = app.client.get(
        "/consent", params={"channel": "email"}, headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text
    assert "138****5678" not in fragment.text

    csrf = app.login("agent")
    page = app.client.get("/consent")
    assert A in page.text
    assert 'action="/consent/entries"' in page.text
    assert 'action="/consent/imports"' in page.text
    form = {"msisdn": B, "kind": "dnd", "channel": "outbound_call", "source": "customer_request"}
    refused = app.client.post("/consent/entries", data=form, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF field
    done = app.client.post("/consent/entries", data={**form, "csrf_token": csrf})
    assert done.status_code == 200
    assert B in done.text
    assert "已登记" in done.text or "register" in done.text
    again = app.client.post("/consent/entries", data={**form, "csrf_token": csrf})
    assert again.status_code == 422
    assert B in again.text  # the entered value is kept
    bad_file = app.client.post(
        "/consent/imports",
        data={"csrf_token": csrf},
        files={"file": ("x.csv", b"msisdn,kind,channel\n123,dnd,all\n", "text/csv")},
    )
    assert bad_file.status_code == 422
    assert "x.csv" in bad_file.text
