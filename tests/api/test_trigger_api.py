"""Triggers over HTTP: who may send events and manage rules, an idempotent batch, refusals
that name the field, and the console page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.auth import passwords
from telmark.auth import service as auth_service
from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.execution.triggers import api
from telmark.execution.triggers.models import TriggerDecision
from telmark.uow import UnitOfWork, uow_dependency
from telmark.warehouse.connection import connect
from telmark.web.app import create_app
from tests._factories.auth import PASSWORD
from tests._factories.auth_client import FAST_HASHER
from tests._factories.segments import load_warehouse, province_directory
from tests.integration.test_trigger_service import build_trigger_world

# The case runs in December 2026: events are decided as of noon on its second day.
NOW = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


@dataclass
class Client:
    http: TestClient
    tokens: dict[str, str]
    case_id: int
    line: int
    db: sessionmaker[Session]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trigger-api")
    con = load_warehouse(province_directory(root, subscribers=400, seed=9), root / "w.duckdb")
    con.disconnect()
    return root / "w.duckdb"


@pytest.fixture
def client(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> Iterator[Client]:
    shutil.copy(built, tmp_path / "w.duckdb")
    url = "duckdb://" + str(tmp_path / "w.duckdb")
    con = connect(url)
    world = build_trigger_world(db, con, tmp_path / "snapshots")
    con.disconnect()
    province = world.cases.province
    tokens = {}
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER), UnitOfWork(db) as uow:
        for name, org, roles in (
            ("boss", province, [Role.MARKETING_PLANNER]),
            ("c01", "C01", [Role.CITY_MARKETING_MANAGER]),
            ("analyst", province, [Role.ANALYST]),
        ):
            user = auth_service.create_user(
                uow=uow, username=name, display_name=name, org_code=org, roles=roles,
                password=PASSWORD,
            )  # fmt: skip
            tokens[name] = auth_service.issue_token(uow=uow, user_id=user.id, name=name).token

    def test_uow() -> Iterator[UnitOfWork]:
        with UnitOfWork(db) as unit:
            yield unit

    app = create_app(Settings(data_dir=tmp_path, warehouse_url=url))
    app.dependency_overrides[uow_dependency] = test_uow
    with (
        mock.patch.object(api, "utcnow", return_value=NOW),
        mock.patch("telmark.execution.triggers.service.utcnow", return_value=NOW),
        TestClient(app) as http,
    ):
        yield Client(http, tokens, world.case_id, world.subscriber_ids[0], db)


def _batch(*ids: str, line: int, balance: int = 300) -> dict[str, object]:
    return {
        "events": [
            {"event_id": i, "type": "balance_low", "subscriber_id": line,
             "occurred_at": NOW.isoformat(), "payload": {"balance_fen": balance}}
            for i in ids
        ]
    }  # fmt: skip


def test_a_batch_is_decided_once_and_answers_with_masked_numbers(client: Client) -> None:
    sent = client.http.post(
        "/api/triggers/events",
        json=_batch("a1", "a1", line=client.line),
        headers=client.as_("boss"),
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert (body["decided"], body["duplicates"]) == (1, 1)
    first = body["decisions"][0]
    assert first["outcome"] == "contact"
    assert first["case_id"] == client.case_id
    assert "****" in first["msisdn"]
    again = client.http.post(
        "/api/triggers/events", json=_batch("a1", line=client.line), headers=client.as_("boss")
    )
    assert again.json()["decisions"][0]["duplicate"] is True
    with client.db() as session:
        assert session.scalar(select(func.count()).select_from(TriggerDecision)) == 1


def test_who_may_send_events(client: Client) -> None:
    batch = _batch("b1", line=client.line)
    assert client.http.post("/api/triggers/events", json=batch).status_code == 401
    refused = client.http.post("/api/triggers/events", json=batch, headers=client.as_("analyst"))
    assert refused.status_code == 403  # no triggers:ingest
    city = client.http.post("/api/triggers/events", json=batch, headers=client.as_("c01"))
    assert city.status_code == 403  # holds no triggers:ingest, and is below the province


def test_a_bad_event_names_its_field_and_nothing_is_decided(client: Client) -> None:
    batch = _batch("c1", "c2", line=client.line)
    batch["events"][1]["payload"] = {"balance_fen": "low"}  # type: ignore[index]
    refused = client.http.post("/api/triggers/events", json=batch, headers=client.as_("boss"))
    assert refused.status_code == 422
    assert "events[1].payload.balance_fen" in refused.text
    with client.db() as session:
        assert session.scalar(select(func.count()).select_from(TriggerDecision)) == 0


def test_rules_are_managed_within_scope(client: Client) -> None:
    rule = {"event_type": "quota_80", "condition": {"field": "used_pct", "op": ">=", "value": 90},
            "cooldown_days": 3}  # fmt: skip
    saved = client.http.put(
        f"/api/triggers/rules/{client.case_id}", json=rule, headers=client.as_("boss")
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["condition_text"] == "used_pct >= 90"
    assert saved.json()["revision"] == 2
    bad = {**rule, "condition": {"field": "days_left", "op": "<", "value": 3}}
    refused = client.http.put(
        f"/api/triggers/rules/{client.case_id}", json=bad, headers=client.as_("boss")
    )
    assert refused.status_code == 422
    assert "condition.field" in refused.text
    # A city manager sees the province case (issued to nobody) neither in lists nor by id.
    assert client.http.get("/api/triggers/rules", headers=client.as_("c01")).json() == []
    hidden = client.http.get(f"/api/triggers/rules/{client.case_id}", headers=client.as_("c01"))
    assert hidden.status_code == 404


def test_the_console_page_shows_rules_counters_and_masked_decisions(client: Client) -> None:
    client.http.post(
        "/api/triggers/events", json=_batch("d1", line=client.line), headers=client.as_("boss")
    )
    page = client.http.get("/triggers", headers=client.as_("boss"))
    assert page.status_code == 200
    assert 'id="trigger-rules"' in page.text
    assert "d1" in page.text
    assert "****" in page.text
    counters = client.http.get("/api/triggers/counters", headers=client.as_("boss")).json()
    assert counters["engine"]["loaded"] is True
    assert sum(c["count"] for c in counters["counts"]) == 1
