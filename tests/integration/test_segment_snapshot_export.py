"""Exports of a snapshot: masked unless asked, audited, CSV for Excel, Parquet round-trip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import ibis
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from telmark.audit.models import AuditEntry
from telmark.errors import InvalidInput, NotFound
from telmark.privacy.masking import mask_msisdn, mask_name
from telmark.segments import snapshots
from telmark.segments.schemas import ExportFormat, SnapshotExport
from telmark.uow import UnitOfWork
from tests.integration.test_segment_snapshot import PREPAID, World, built, world

__all__ = ["built", "world"]  # the shared fixtures


def _export(
    world: World, snapshot_id: int, out: Path, actor_name: str = "province", **kwargs: object
) -> SnapshotExport:
    actor = getattr(world, actor_name)
    with world.uow(actor) as uow:
        return snapshots.export_snapshot(
            uow=uow,
            con=world.con,
            directory=world.directory,
            snapshot_id=snapshot_id,
            out=out,
            **kwargs,  # type: ignore[arg-type]
        )


def _csv(path: Path) -> tuple[bytes, list[dict[str, str]]]:
    raw = path.read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return raw, rows


def _warehouse_rows(world: World, ids: list[int]) -> dict[int, dict[str, object]]:
    subscribers = world.con.table("subscribers")
    picked = subscribers.filter(subscribers.subscriber_id.isin(ids)).to_pyarrow().to_pylist()
    return {int(r["subscriber_id"]): r for r in picked}


def test_csv_export_is_masked_by_default_and_clear_only_when_asked(
    world: World, tmp_path: Path
) -> None:
    segment_id = world.create(world.province, PREPAID)
    taken = world.take(world.province, segment_id)
    members = world.members(world.province, taken.id)

    masked = _export(world, taken.id, tmp_path / "masked.csv")
    raw, rows = _csv(tmp_path / "masked.csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    assert list(rows[0]) == list(snapshots.DEFAULT_EXPORT_COLUMNS)
    assert b"\r\n" in raw
    assert masked.rows == len(rows) == len(members) == taken.member_count
    assert [int(r["subscriber_id"]) for r in rows] == members
    truth = _warehouse_rows(world, members)
    for row in rows[:50]:
        source = truth[int(row["subscriber_id"])]
        assert row["msisdn"] == mask_msisdn(str(source["msisdn"]))
        assert row["customer_name"] == mask_name(str(source["customer_name"]))
        assert row["payment_type"] == "prepaid"
        assert row["city_id"] == str(source["org_id"])[:3]  # outlets C01D..O.. sit in C01
        assert all(row[c] for c in ("city_name", "org_name", "plan_name"))
    assert not masked.unmasked

    clear = _export(
        world,
        taken.id,
        tmp_path / "clear.csv",
        unmask=True,
        columns=["subscriber_id", "msisdn", "id_number", "join_date", "handset_5g"],
    )
    _, rows = _csv(tmp_path / "clear.csv")
    assert list(rows[0]) == ["subscriber_id", "msisdn", "id_number", "join_date", "handset_5g"]
    for row in rows[:50]:
        source = truth[int(row["subscriber_id"])]
        assert row["msisdn"] == source["msisdn"]
        assert row["id_number"] == source["id_number"]
        assert row["join_date"] == source["join_date"].isoformat()  # type: ignore[attr-defined]
        assert row["handset_5g"] == ("true" if source["handset_5g"] else "false")
    assert clear.unmasked

    with UnitOfWork(world.db) as uow:
        entries = uow.session.execute(
            select(AuditEntry.entity_id, AuditEntry.actor_username, AuditEntry.after)
            .where(AuditEntry.action == "export", AuditEntry.entity_type == "segment_snapshot")
            .order_by(AuditEntry.id)
        ).all()
    assert [(e[0], e[1]) for e in entries] == [(str(taken.id), "planner")] * 2
    details = [e[2] or {} for e in entries]
    assert [d["unmasked"] for d in details] == [False, True]
    assert {d["rows"] for d in details} == {len(members)}
    assert details[1]["personal_columns"] == ["id_number", "msisdn"]
    # A million-row export must not put a million ids in the log: no id list at all.
    assert all("ids" not in d for d in details)
    assert all(len(str(d)) < 2_000 for d in details)


def test_parquet_round_trip_and_column_choice(world: World, tmp_path: Path) -> None:
    segment_id = world.create(world.province, PREPAID)
    taken = world.take(world.province, segment_id)
    members = world.members(world.province, taken.id)
    result = _export(
        world,
        taken.id,
        tmp_path / "list.parquet",
        export_format=ExportFormat.PARQUET,
        columns=["subscriber_id", "customer_name", "birth_year", "contract_end"],
    )
    table = pq.read_table(tmp_path / "list.parquet")
    assert table.column_names == ["subscriber_id", "customer_name", "birth_year", "contract_end"]
    assert table.column("subscriber_id").to_pylist() == members
    assert result.byte_size == (tmp_path / "list.parquet").stat().st_size
    truth = _warehouse_rows(world, members)
    for row in table.to_pylist():
        source = truth[row["subscriber_id"]]
        assert row["customer_name"] == mask_name(str(source["customer_name"]))
        assert row["birth_year"] == source["birth_year"]
        assert row["contract_end"] == source["contract_end"]

    before = sorted(tmp_path.iterdir())
    for bad in (["subscriber_id", "password"], [" "]):
        with pytest.raises(InvalidInput, match="columns") as caught:
            _export(world, taken.id, tmp_path / "x.csv", columns=bad)
        assert caught.value.details[0]["field"] == "columns"
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_formula_cells_are_defused_and_members_who_left_are_kept(
    world: World, tmp_path: Path
) -> None:
    segment_id = world.create(world.province, PREPAID)
    taken = world.take(world.province, segment_id)
    members = world.members(world.province, taken.id)
    first, gone = members[0], members[1]
    subscribers = world.con.table("subscribers")
    changed = subscribers.filter(subscribers.subscriber_id != gone).mutate(
        customer_name=ibis.ifelse(
            subscribers.subscriber_id == first,
            ibis.literal('=HYPERLINK("x")'),
            subscribers.customer_name,
        )
    )
    world.con.create_table("subscribers", changed.to_pyarrow(), overwrite=True)
    two = ["subscriber_id", "customer_name"]
    _export(world, taken.id, tmp_path / "a.csv", unmask=True, columns=two)
    _, rows = _csv(tmp_path / "a.csv")
    by_id = {int(r["subscriber_id"]): r for r in rows}
    assert by_id[first]["customer_name"] == '\'=HYPERLINK("x")'
    assert by_id[gone]["customer_name"] == ""  # frozen member, no current row
    assert len(rows) == taken.member_count
    _export(world, taken.id, tmp_path / "b.csv", columns=two)
    _, rows = _csv(tmp_path / "b.csv")
    assert {int(r["subscriber_id"]): r for r in rows}[first]["customer_name"] == "'" + mask_name(
        '=HYPERLINK("x")'
    )


def test_export_needs_the_snapshots_scope_and_a_sound_file(world: World, tmp_path: Path) -> None:
    segment_id = world.create(world.province, PREPAID, org="C01")
    everyone = world.take(world.province, segment_id)
    city = world.take(world.nanjing, segment_id)
    with pytest.raises(NotFound):
        _export(world, everyone.id, tmp_path / "x.csv", actor_name="nanjing")
    result = _export(world, city.id, tmp_path / "city.csv", actor_name="nanjing")
    _, rows = _csv(tmp_path / "city.csv")
    assert result.rows == len(rows) == city.member_count
    assert {r["city_id"] for r in rows} == {"C01"}
    # A changed province list is refused; the city's own list is unaffected.
    path = next(p for p in world.files() if snapshots.file_digest(p)[0] == everyone.sha256)
    path.write_bytes(b"not parquet")
    with pytest.raises(snapshots.SnapshotCorrupt):
        _export(world, everyone.id, tmp_path / "y.csv")
    assert not (tmp_path / "y.csv").exists()
    assert _export(world, city.id, tmp_path / "z.csv").rows == city.member_count
