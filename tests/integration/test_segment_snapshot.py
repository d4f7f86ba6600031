"""Segment snapshots on SQLite and PostgreSQL: frozen, idempotent, crash-safe, verified, scoped."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.errors import Conflict, InvalidInput, NotFound
from telmark.org import service as org_service
from telmark.org.models import OrgUnit
from telmark.segments import service, snapshots
from telmark.segments.compile import compile_rule
from telmark.segments.domain import SegmentStatus, SnapshotStatus
from telmark.segments.models import SegmentSnapshot
from telmark.segments.rules import parse_rule
from telmark.segments.schemas import SegmentCreate, SegmentUpdate, SnapshotRead
from telmark.segments.snapshots import store
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from telmark.warehouse.scope import scoped
from tests._factories.segments import END_MONTH, load_warehouse, province_directory

PREPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
}
LONG_TENURE = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 24}}


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler in the service runs."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapshots")
    con = load_warehouse(province_directory(root, subscribers=1_500, seed=17), root / "w.duckdb")
    con.disconnect()
    return root / "w.duckdb"


@dataclass
class World:
    db: sessionmaker[Session]
    con: BaseBackend
    directory: Path
    province: Actor
    nanjing: Actor
    wuxi: Actor

    def uow(self, actor: Actor) -> UnitOfWork:
        return UnitOfWork(self.db, actor=actor)

    def create(self, actor: Actor, rule: dict[str, object], org: str | None = None) -> int:
        with self.uow(actor) as uow:
            spec = SegmentCreate(name="目标", org_code=org, rule=rule)
            return service.create_segment(uow=uow, spec=spec).id

    def take(
        self,
        actor: Actor,
        segment_id: int,
        *,
        version: int | None = None,
        as_of: date | None = None,
        idempotency_key: str | None = None,
    ) -> SnapshotRead:
        with self.uow(actor) as uow:
            return snapshots.take_snapshot(
                uow=uow,
                con=self.con,
                directory=self.directory,
                segment_id=segment_id,
                version=version,
                as_of=as_of,
                idempotency_key=idempotency_key,
            )

    def members(self, actor: Actor, snapshot_id: int) -> list[int]:
        with self.uow(actor) as uow:
            table = snapshots.snapshot_members(
                uow=uow, con=self.con, directory=self.directory, snapshot_id=snapshot_id
            )
            return [int(i) for i in table.subscriber_id.to_pyarrow().to_pylist()]

    def rows(self) -> list[SnapshotRead]:
        with UnitOfWork(self.db) as uow:
            found = uow.session.scalars(select(SegmentSnapshot).order_by(SegmentSnapshot.id))
            return [SnapshotRead.model_validate(r) for r in found]

    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*") if p.is_file())


@pytest.fixture
def world(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> Iterator[World]:
    # A copy per test: some tests change the warehouse after taking a snapshot.
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    with UnitOfWork(db) as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
        paths: dict[str, str] = dict(uow.session.execute(select(OrgUnit.code, OrgUnit.path)).all())
    province = next(code for code, path in paths.items() if path.count("/") == 2)
    yield World(
        db=db,
        con=con,
        directory=tmp_path / "snapshots",
        province=Actor(username="planner", channel="web", scope_path=paths[province]),
        nanjing=Actor(username="nj.manager", channel="web", scope_path=paths["C01"]),
        wuxi=Actor(username="wx.manager", channel="web", scope_path=paths["C02"]),
    )
    con.disconnect()


def _compiled(con: BaseBackend, rule: dict[str, object]) -> list[int]:
    ids = compile_rule(con, parse_rule(rule)).subscriber_id.to_pyarrow().to_pylist()
    return sorted(int(i) for i in ids)


def test_snapshot_holds_the_compiled_members_and_stays_frozen(world: World) -> None:
    segment_id = world.create(world.province, PREPAID)
    taken = world.take(world.province, segment_id)
    expected = _compiled(world.con, PREPAID)
    assert len(expected) > 100
    assert taken.status is SnapshotStatus.READY
    assert (taken.version, taken.member_count) == (1, len(expected))
    assert taken.as_of == END_MONTH
    assert taken.data_date == date(2026, 9, 30)  # last day of the latest usage month
    assert world.members(world.province, taken.id) == expected
    (path,) = world.files()
    table = pq.read_table(path)
    assert table.column_names == ["subscriber_id"]
    assert table.column("subscriber_id").to_pylist() == expected  # sorted
    assert taken.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert taken.byte_size == path.stat().st_size

    # Data changes after the snapshot: the live rule moves, the snapshot does not.
    subscribers = world.con.table("subscribers")
    everyone_postpaid = subscribers.mutate(payment_type=ibis.literal("postpaid"))
    world.con.create_table("subscribers", everyone_postpaid.to_pyarrow(), overwrite=True)
    assert _compiled(world.con, PREPAID) == []
    assert world.members(world.province, taken.id) == expected
    again = world.take(world.province, segment_id)
    assert again.id != taken.id
    assert again.member_count == 0

    # A new rule version leaves the earlier snapshot naming version 1; version 1 can still
    # be frozen on purpose.
    with world.uow(world.province) as uow:
        service.update_segment(uow=uow, segment_id=segment_id, spec=SegmentUpdate(rule=LONG_TENURE))
    with world.uow(world.province) as uow:
        listed = snapshots.list_snapshots(uow=uow, segment_id=segment_id)
    assert [(s.id, s.version) for s in listed] == [(again.id, 1), (taken.id, 1)]
    assert world.take(world.province, segment_id).version == 2
    assert world.take(world.province, segment_id, version=1).version == 1
    with pytest.raises(NotFound, match="version 7"):
        world.take(world.province, segment_id, version=7)

    # Written to the audit trail by the ORM capture: the insert and the ready update.
    with UnitOfWork(world.db) as uow:
        actions = uow.session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity_type == "segment_snapshot",
                AuditEntry.entity_id == str(taken.id),
            )
        ).all()
    assert sorted(actions) == ["create", "update"]


def test_as_of_an_earlier_month(world: World) -> None:
    segment_id = world.create(world.province, LONG_TENURE)
    earlier = date(2026, 7, 1)
    taken = world.take(world.province, segment_id, as_of=date(2026, 7, 15))
    assert (taken.as_of, taken.data_date) == (earlier, date(2026, 9, 30))
    expected = sorted(
        int(i)
        for i in compile_rule(world.con, parse_rule(LONG_TENURE), as_of=earlier)
        .subscriber_id.to_pyarrow()
        .to_pylist()
    )
    assert world.members(world.province, taken.id) == expected
    assert expected != _compiled(world.con, LONG_TENURE)  # the month matters


def test_a_retried_request_returns_the_same_snapshot(world: World) -> None:
    segment_id = world.create(world.province, PREPAID)
    first = world.take(world.province, segment_id, idempotency_key="case-42")
    second = world.take(world.province, segment_id, idempotency_key=" case-42 ")
    assert second == first
    assert len(world.rows()) == 1
    assert len(world.files()) == 1
    other = world.take(world.province, segment_id, idempotency_key="case-43")
    assert other.id != first.id
    with world.uow(world.province) as uow:
        service.update_segment(uow=uow, segment_id=segment_id, spec=SegmentUpdate(rule=LONG_TENURE))
    # The key names the original request (version 1), not whatever is current now.
    assert world.take(world.province, segment_id, idempotency_key="case-42") == first
    with pytest.raises(Conflict, match="idempotency_key.*version"):
        world.take(world.province, segment_id, version=2, idempotency_key="case-42")
    with pytest.raises(NotFound):  # an unknown version is refused before the key is looked at
        world.take(world.province, segment_id, version=3, idempotency_key="case-99")
    with pytest.raises(Conflict, match="as_of"):
        world.take(world.province, segment_id, as_of=date(2026, 8, 1), idempotency_key="case-42")
    for bad in ("", "   ", "x" * 101, "a\nb"):
        with pytest.raises(InvalidInput, match="idempotency_key") as caught:
            world.take(world.province, segment_id, idempotency_key=bad)
        assert caught.value.details == [{"field": "idempotency_key"}]
    assert len(world.rows()) == 2


def test_a_crash_between_file_and_commit_is_taken_over_or_cleaned(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment_id = world.create(world.province, PREPAID)
    real_digest = store.file_digest

    def crash(_path: Path) -> tuple[str, int]:
        raise Crash

    monkeypatch.setattr(store, "file_digest", crash)
    with pytest.raises(Crash):
        world.take(world.province, segment_id, idempotency_key="k1")
    (stuck,) = world.rows()
    assert stuck.status is SnapshotStatus.BUILDING
    (orphan,) = world.files()  # the renamed file, never marked ready
    monkeypatch.setattr(store, "file_digest", real_digest)

    # The same key takes the row over: same id, a fresh file, the old one gone.
    retried = world.take(world.province, segment_id, idempotency_key="k1")
    assert retried.id == stuck.id
    assert retried.status is SnapshotStatus.READY
    assert retried.member_count == len(_compiled(world.con, PREPAID))
    assert not orphan.exists()
    assert len(world.files()) == 1

    # Without a key, the next snapshot of the segment cleans the abandoned build.
    monkeypatch.setattr(store, "file_digest", crash)
    with pytest.raises(Crash):
        world.take(world.province, segment_id)
    abandoned = world.rows()[-1]
    assert abandoned.status is SnapshotStatus.BUILDING
    assert len(world.files()) == 2
    monkeypatch.setattr(store, "file_digest", real_digest)
    fresh = world.take(world.province, segment_id)
    rows = {r.id: r for r in world.rows()}
    assert rows[abandoned.id].status is SnapshotStatus.FAILED
    assert "abandoned" in str(rows[abandoned.id].failure)
    assert rows[fresh.id].status is SnapshotStatus.READY
    assert len(world.files()) == 2  # the first snapshot's and the fresh one's
    assert world.members(world.province, retried.id) == world.members(world.province, fresh.id)


def test_a_failed_build_is_recorded_and_leaves_no_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment_id = world.create(world.province, PREPAID)

    def full_disk(_path: Path) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_row_count", full_disk)
    with pytest.raises(OSError, match="No space"):
        world.take(world.province, segment_id, idempotency_key="k")
    (failed,) = world.rows()
    assert failed.status is SnapshotStatus.FAILED
    assert "No space left" in str(failed.failure)
    assert world.files() == []
    with world.uow(world.province) as uow, pytest.raises(Exception, match="failed"):
        snapshots.snapshot_members(
            uow=uow, con=world.con, directory=world.directory, snapshot_id=failed.id
        )
    monkeypatch.undo()
    retried = world.take(world.province, segment_id, idempotency_key="k")
    assert (retried.id, retried.status, retried.failure) == (failed.id, "ready", None)


def test_a_changed_or_missing_file_is_refused(world: World) -> None:
    segment_id = world.create(world.province, PREPAID)
    taken = world.take(world.province, segment_id)
    (path,) = world.files()
    original = path.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0xFF
    path.write_bytes(bytes(tampered))
    with pytest.raises(snapshots.SnapshotCorrupt, match="changed after it was taken"):
        world.members(world.province, taken.id)
    path.write_bytes(original + b"\0")  # same content plus a byte
    with pytest.raises(snapshots.SnapshotCorrupt):
        world.members(world.province, taken.id)
    path.unlink()
    with pytest.raises(snapshots.SnapshotCorrupt, match="missing"):
        world.members(world.province, taken.id)
    path.write_bytes(original)
    assert len(world.members(world.province, taken.id)) == taken.member_count


def test_a_city_snapshot_holds_only_the_city_and_is_seen_only_in_scope(world: World) -> None:
    segment_id = world.create(world.province, PREPAID, org="C01")
    everyone = world.take(world.province, segment_id)
    # The city manager's backend is the unscoped one: the service scopes it from the actor.
    city = world.take(world.nanjing, segment_id)
    assert (everyone.org_code, city.org_code) == (world.province.scope_path.strip("/"), "C01")  # type: ignore[union-attr]
    in_city = _compiled(scoped(world.con, org_code="C01", org_path="/x/C01/"), PREPAID)
    assert 0 < len(in_city) < everyone.member_count  # type: ignore[operator]
    assert world.members(world.nanjing, city.id) == in_city
    with world.uow(world.nanjing) as uow:
        assert [s.id for s in snapshots.list_snapshots(uow=uow, segment_id=segment_id)] == [city.id]
        with pytest.raises(NotFound):
            snapshots.get_snapshot(uow=uow, snapshot_id=everyone.id)
    with pytest.raises(NotFound):
        world.members(world.nanjing, everyone.id)
    with world.uow(world.province) as uow:
        seen = {s.id for s in snapshots.list_snapshots(uow=uow, segment_id=segment_id)}
    assert seen == {everyone.id, city.id}
    before = len(world.rows())
    with pytest.raises(NotFound):
        world.take(world.wuxi, segment_id)
    with pytest.raises(NotFound):
        world.members(world.wuxi, city.id)
    assert len(world.rows()) == before


def test_an_archived_segment_can_still_be_frozen(world: World) -> None:
    segment_id = world.create(world.province, PREPAID)
    with world.uow(world.province) as uow:
        service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ARCHIVED)
    taken = world.take(world.province, segment_id)
    assert taken.status is SnapshotStatus.READY
    with UnitOfWork(world.db) as uow:
        count = uow.session.scalar(select(func.count()).select_from(SegmentSnapshot))
    assert count == 1


def test_two_first_requests_with_one_key_make_one_snapshot(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    segment_id = world.create(world.province, PREPAID)
    first = world.take(world.province, segment_id, idempotency_key="same")
    # The second request looked the key up just before the first one inserted it: its
    # insert then hits the unique key, and it answers with the first one's snapshot.
    real = store._by_key
    misses = iter([True])

    def late(uow: UnitOfWork, segment: int, key: str) -> SegmentSnapshot | None:
        return None if next(misses, False) else real(uow, segment, key)

    monkeypatch.setattr(store, "_by_key", late)
    ours = world.take(world.province, segment_id, idempotency_key="same")
    assert next(misses, None) is None  # the stale lookup did happen
    assert ours == first
    assert len(world.rows()) == 1
    assert len(world.files()) == 1
