"""Segment profile, overlap, trend, snapshots and exports over HTTP: rights, scope, audit."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from telmark.audit.models import AuditEntry
from telmark.auth import passwords
from telmark.auth.permissions import Role
from telmark.segments.compile import count
from telmark.segments.rules import parse_rule
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from telmark.warehouse.scope import scoped
from tests._factories.auth import make_user
from tests._factories.auth_client import FAST_HASHER, AuthApp
from tests._factories.market import province_app, sample_warehouse
from tests._factories.warehouse import FactoryWarehouse

PREPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
}
POSTPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> FactoryWarehouse:
    return sample_warehouse(tmp_path_factory.mktemp("snapshot-api"))


@pytest.fixture
def app(
    tmp_path: Path, db: sessionmaker[Session], warehouse: FactoryWarehouse
) -> Iterator[AuthApp]:
    with mock.patch.object(passwords, "_HASHER", FAST_HASHER):
        for built in province_app(tmp_path, db, warehouse):
            # A city manager who also works the front line: takes snapshots and may unmask.
            with UnitOfWork(db) as uow:
                make_user(
                    uow,
                    "nanjing.front",
                    org="C01",
                    roles=[Role.CITY_MARKETING_MANAGER, Role.OUTLET_MANAGER],
                )
            yield built


def _create(app: AuthApp, name: str, org_code: str, rule: dict[str, object]) -> int:
    response = app.client.post(
        "/api/segments",
        json={"name": name, "org_code": org_code, "rule": rule},
        headers={"X-CSRF-Token": app.csrf()},
    )
    assert response.status_code == 201, response.text
    segment_id: int = response.json()["id"]
    return segment_id


def _snapshot(app: AuthApp, segment_id: int, key: str | None = None) -> dict[str, object]:
    headers = {"X-CSRF-Token": app.csrf()}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = app.client.post(f"/api/segments/{segment_id}/snapshots", headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_profile_overlap_and_trend(app: AuthApp, warehouse: FactoryWarehouse) -> None:
    app.login("planner")
    prepaid = _create(app, "预付费", "P", PREPAID)
    postpaid = _create(app, "后付费", "P", POSTPAID)
    client = app.client

    profile = client.get(f"/api/segments/{prepaid}/profile").json()
    con = connect(warehouse.url)
    try:
        everyone = count(con, parse_rule(PREPAID))
    finally:
        con.disconnect()
    assert profile["size"] == everyone
    payment = next(d for d in profile["distributions"] if d["dimension"] == "payment_type")
    assert [b["key"] for b in payment["buckets"] if b["segment"]] == ["prepaid"]

    for query in (f"ids={prepaid}&ids={postpaid}", f"ids={prepaid},{postpaid}"):
        matrix = client.get(f"/api/segments/overlap?{query}").json()
        assert matrix["sizes"][0] == everyone
        assert matrix["intersections"][0][1] == 0  # prepaid and postpaid never overlap
    bad = client.get(f"/api/segments/overlap?ids={prepaid},x")
    assert bad.status_code == 422
    assert bad.json()["details"] == [{"field": "ids", "value": "x"}]
    one = client.get(f"/api/segments/overlap?ids={prepaid}")
    assert one.status_code == 422
    assert one.json()["details"] == [{"field": "segment_ids"}]

    trend = client.get(f"/api/segments/{prepaid}/trend?months=3").json()
    assert len(trend["points"]) == 3
    assert trend["points"][-1]["count"] == everyone
    too_long = client.get(f"/api/segments/{prepaid}/trend?months=99")
    assert too_long.status_code == 422
    assert "months" in too_long.text

    app.login("nanjing")  # the city sees its own lines only, and not the province's segments
    assert client.get(f"/api/segments/{prepaid}/profile").status_code == 404
    assert client.get(f"/api/segments/overlap?ids={prepaid},{postpaid}").status_code == 404
    app.login("agent")  # no aggregate reads
    assert client.get(f"/api/segments/{prepaid}/trend").status_code == 403


def test_snapshots_rights_idempotency_and_scope(app: AuthApp, warehouse: FactoryWarehouse) -> None:
    client = app.client
    app.login("planner")
    segment_id = _create(app, "南京预付费", "C01", PREPAID)
    province = _snapshot(app, segment_id, key="launch-1")
    assert _snapshot(app, segment_id, key="launch-1") == province
    assert province["status"] == "ready"
    assert province["org_code"] == "P"

    app.login("approver")  # reads segments, does not freeze them
    csrf = app.csrf()
    assert len(client.get(f"/api/segments/{segment_id}/snapshots").json()) == 1
    denied = client.post(f"/api/segments/{segment_id}/snapshots", headers={"X-CSRF-Token": csrf})
    assert denied.status_code == 403

    app.login("nanjing")
    city = _snapshot(app, segment_id)
    con = connect(warehouse.url)
    try:
        in_city = count(scoped(con, org_code="C01", org_path="/P/C01/"), parse_rule(PREPAID))
    finally:
        con.disconnect()
    assert (city["org_code"], city["member_count"]) == ("C01", in_city)
    listed = client.get(f"/api/segments/{segment_id}/snapshots").json()
    assert [s["id"] for s in listed] == [city["id"]]  # the province's list is not theirs
    assert client.get(f"/api/segments/snapshots/{province['id']}").status_code == 404
    assert client.get(f"/api/segments/snapshots/{province['id']}/export").status_code == 404
    assert client.get(f"/api/segments/snapshots/{city['id']}").json() == city
    reused = client.post(
        f"/api/segments/{segment_id}/snapshots",
        headers={"X-CSRF-Token": app.csrf(), "Idempotency-Key": "launch-1"},
    )
    assert reused.status_code == 409  # the planner's key names the province snapshot
    assert reused.json()["details"] == [{"field": "idempotency_key"}]
    wrong = client.post(
        f"/api/segments/{segment_id}/snapshots",
        json={"version": 5},
        headers={"X-CSRF-Token": app.csrf()},
    )
    assert wrong.status_code == 404

    app.login("suzhou")
    assert client.get(f"/api/segments/snapshots/{city['id']}").status_code == 404
    assert client.get(f"/api/segments/{segment_id}/snapshots").status_code == 404


def test_exports_masked_unless_allowed_and_asked(app: AuthApp, db: sessionmaker[Session]) -> None:
    client = app.client
    app.login("nanjing.front")
    segment_id = _create(app, "南京后付费", "C01", POSTPAID)
    taken = _snapshot(app, segment_id)

    masked = client.get(f"/api/segments/snapshots/{taken['id']}/export")
    assert masked.status_code == 200
    assert masked.headers["content-type"].startswith("text/csv")
    assert masked.headers["x-telmark-unmasked"] == "false"
    assert (
        f"segment-{segment_id}-snapshot-{taken['id']}.csv" in masked.headers["content-disposition"]
    )
    assert masked.content.startswith(b"\xef\xbb\xbf")
    rows = _rows(masked.content)
    assert len(rows) == taken["member_count"]
    assert all("*" in r["msisdn"] and "*" in r["customer_name"] for r in rows)
    assert {r["city_id"] for r in rows} == {"C01"}

    clear = client.get(
        f"/api/segments/snapshots/{taken['id']}/export",
        params={"unmask": "true", "format": "parquet", "columns": "subscriber_id,msisdn"},
    )
    assert clear.headers["x-telmark-unmasked"] == "true"
    table = pq.read_table(pa.BufferReader(clear.content))
    assert table.column_names == ["subscriber_id", "msisdn"]
    assert [r["subscriber_id"] for r in rows] == [
        str(i) for i in table.column("subscriber_id").to_pylist()
    ]
    assert all("*" not in m for m in table.column("msisdn").to_pylist())

    bad = client.get(
        f"/api/segments/snapshots/{taken['id']}/export", params={"columns": "msisdn,salary"}
    )
    assert bad.status_code == 422
    assert bad.json()["details"] == [{"field": "columns", "value": "salary"}]

    app.login("nanjing")  # may read customers, may not unmask: asking changes nothing
    own = _snapshot(app, segment_id)
    refused = client.get(f"/api/segments/snapshots/{own['id']}/export?unmask=true")
    assert refused.headers["x-telmark-unmasked"] == "false"
    assert all("*" in r["msisdn"] for r in _rows(refused.content))
    app.login("approver")  # no customer reads at all
    assert client.get(f"/api/segments/snapshots/{taken['id']}/export").status_code == 403

    with UnitOfWork(db) as uow:
        exports = uow.session.execute(
            select(AuditEntry.actor_username, AuditEntry.entity_id, AuditEntry.after)
            .where(AuditEntry.action == "export", AuditEntry.entity_type == "segment_snapshot")
            .order_by(AuditEntry.id)
        ).all()
    assert [(e[0], e[1], (e[2] or {})["unmasked"]) for e in exports] == [
        ("nanjing.front", str(taken["id"]), False),
        ("nanjing.front", str(taken["id"]), True),
        ("nanjing", str(own["id"]), False),
    ]
    assert (exports[1][2] or {})["rows"] == taken["member_count"]


def test_a_changed_member_file_is_refused(app: AuthApp, tmp_path: Path) -> None:
    app.login("planner")
    segment_id = _create(app, "预付费", "P", PREPAID)
    taken = _snapshot(app, segment_id)
    (path,) = (tmp_path / "snapshots").rglob("*.parquet")
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    response = app.client.get(f"/api/segments/snapshots/{taken['id']}/export")
    assert response.status_code == 409
    assert response.json()["error"] == "snapshot_corrupt"
