"""Targeting over HTTP: policy rights and versions, a run with its funnel, explanation and
masked list download, simulation, and the console pages."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.audit.models import AuditEntry
from telmark.auth import passwords
from telmark.auth.permissions import Role
from telmark.uow import UnitOfWork
from tests._factories.auth import make_user
from tests._factories.auth_client import FAST_HASHER, AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.warehouse import FactoryWarehouse

RULES = (
    {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 12}},
    {"version": 1, "root": {"kind": "field", "field": "payment_type", "op": "=",
                            "value": "prepaid"}},
)  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("targeting-api"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        for built in province_app(tmp_path, db, warehouse):
            with UnitOfWork(db) as uow:
                make_user(uow, "admin", org="P", roles=[Role.PROVINCE_ADMIN])
            yield built


def _cases(app: AuthApp) -> list[dict[str, object]]:
    cases = []
    for i, rule in enumerate(RULES, start=1):
        headers = {"X-CSRF-Token": app.csrf()}
        made = app.client.post(
            "/api/segments", json={"name": f"目标{i}", "org_code": "P", "rule": rule},
            headers=headers,
        )  # fmt: skip
        assert made.status_code == 201, made.text
        snap = app.client.post(f"/api/segments/{made.json()['id']}/snapshots", headers=headers)
        assert snap.status_code == 201, snap.text
        cases.append(
            {
                "case_id": i, "code": f"CASE{i}", "org_path": "/P/", "priority": 5 + i,
                "business_weight_bp": 5000, "snapshot_id": snap.json()["id"],
                "channels": ["sms", "app_push"], "holdout_bp": 2000,
                "starts_on": "2026-01-01", "ends_on": "2026-12-31",
            }
        )  # fmt: skip
    return cases


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_policy_is_read_by_all_and_changed_by_province_admins(app: AuthApp) -> None:
    app.login("nanjing")
    shown = app.client.get("/api/targeting/policy")
    assert shown.status_code == 200
    assert shown.json()["is_default"] is True
    body = {"global_cap": 3, "period": "month", "channel_caps": {"sms": 2}, "min_gap_days": 1}
    refused = app.client.put(
        "/api/targeting/policy", json=body, headers={"X-CSRF-Token": app.csrf()}
    )
    assert refused.status_code == 403
    app.login("planner")  # runs targeting, but does not set the policy
    assert (
        app.client.put("/api/targeting/policy", json=body, headers={"X-CSRF-Token": app.csrf()})
    ).status_code == 403
    app.login("admin")
    saved = app.client.put("/api/targeting/policy", json=body, headers={"X-CSRF-Token": app.csrf()})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["version"], saved.json()["global_cap"]) == (1, 3)
    bad = app.client.put(
        "/api/targeting/policy", json={"channel_caps": {"fax": 1}},
        headers={"X-CSRF-Token": app.csrf()},
    )  # fmt: skip
    assert bad.status_code == 422
    history = app.client.get("/api/targeting/policy/history").json()
    assert [p["version"] for p in history] == [1]
    page = app.client.get("/targeting/policy")
    assert page.status_code == 200
    assert 'id="policy-form"' in page.text
    form = {"csrf_token": app.csrf(), "global_cap": "2", "period": "week", "cap_sms": "1",
            "min_gap_days": "2", "quiet_start": "21:30", "quiet_end": "08:30",
            "global_holdout_bp": "100", "global_holdout_key": "k2026", "note": "网页"}  # fmt: skip
    posted = app.client.post("/targeting/policy", data=form, follow_redirects=False)
    assert posted.status_code == 303
    current = app.client.get("/api/targeting/policy").json()
    assert (current["version"], current["quiet_start"], current["note"]) == (2, "21:30:00", "网页")


def test_a_run_over_http_with_funnel_explanation_and_masked_lists(
    app: AuthApp, db: sessionmaker[Session]
) -> None:
    app.login("planner")
    cases = _cases(app)
    request = {"run_key": "2026-10-05", "on": "2026-10-05", "cases": cases}
    headers = {"X-CSRF-Token": app.csrf()}
    simulated = app.client.post(
        "/api/targeting/runs", json={**request, "simulate": True}, headers=headers
    )
    assert simulated.status_code == 200, simulated.text
    assert simulated.json()["id"] is None
    assert set(simulated.json()["summary"]["taken_from"]) == {"1"}
    run = app.client.post("/api/targeting/runs", json=request, headers=headers)
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["status"] == "complete"
    assert body["contacts"] > 0
    again = app.client.post("/api/targeting/runs", json=request, headers=headers).json()
    assert (again["id"], again["sha256"]) == (body["id"], body["sha256"])
    run_id = body["id"]
    assert [r["id"] for r in app.client.get("/api/targeting/runs").json()] == [run_id]

    downloaded = app.client.get(f"/api/targeting/runs/{run_id}/lists?case_id=2")
    assert downloaded.status_code == 200
    rows = _rows(downloaded.content)
    assert len(rows) == sum(
        c["count"] for c in body["summary"]["lists"] if c["case_id"] == 2
        and c["group"] == "treatment"
    )  # fmt: skip
    assert all(re.fullmatch(r"1\d\d\*{4}\d{4}", r["msisdn"]) for r in rows)
    assert {r["group"] for r in rows} == {"treatment"}
    assert app.client.get(f"/api/targeting/runs/{run_id}/lists?unmask=true").status_code == 403

    lost = body["summary"]["losses"]
    assert lost, "overlapping segments: case 1 loses to case 2 (higher priority)"
    assert {(c["case_id"], c["beaten_by"]) for c in lost} == {(1, 2)}
    controls = app.client.get(f"/api/targeting/runs/{run_id}/lists?group=control")
    sid = int(_rows(controls.content)[0]["subscriber_id"])
    explained = app.client.get(f"/api/targeting/runs/{run_id}/explain?subscriber_id={sid}")
    assert explained.status_code == 200, explained.text
    assert explained.json()["candidates"][0]["group"] == "control"

    with UnitOfWork(db) as uow:
        exported = [
            e.after or {}
            for e in uow.session.scalars(
                select(AuditEntry).where(AuditEntry.entity_type == "targeting_run")
            )
            if e.action == "export"
        ]
    assert len(exported) == 2  # the case-2 list and the control list; the refused one is not
    assert all(d["unmasked"] is False for d in exported)

    page = app.client.get(f"/targeting/runs/{run_id}")
    assert page.status_code == 200
    found = re.search(r'id="funnel-data">(.*?)</script>', page.text, re.S)
    assert found is not None
    chart = json.loads(found.group(1))
    assert len(chart["steps"]) == 7
    assert chart["series"][-1]["counts"][0] == body["summary"]["funnel"][-1]["steps"][0]["count"]
    assert 'id="balance-table"' in page.text
    assert app.client.get("/targeting/runs").status_code == 200

    app.login("nanjing")  # a city manager: runs span every city
    assert app.client.get(f"/api/targeting/runs/{run_id}").status_code == 403
    assert app.client.get("/targeting/runs").status_code == 403
