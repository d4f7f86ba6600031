"""Saved segments over SQLite and PostgreSQL: versions, scope, status, invalid rules, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.errors import InvalidInput, InvalidTransition, NotFound
from telmark.segments import service
from telmark.segments.domain import SegmentStatus
from telmark.segments.models import Segment, SegmentVersion
from telmark.segments.rules import InvalidRule
from telmark.segments.schemas import SegmentClone, SegmentCreate, SegmentUpdate
from telmark.uow import UnitOfWork
from tests._factories.auth import seed_org

PROVINCE = Actor(username="planner", channel="web", scope_path="/P00/")
NANJING = Actor(username="nj.analyst", channel="web", scope_path="/P00/C01/")
WUXI = Actor(username="wx.analyst", channel="web", scope_path="/P00/C02/")

PREPAID = {
    "version": 1,
    "root": {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
}
LONG_TENURE = {"version": 1, "root": {"kind": "tenure_months", "op": ">=", "value": 24}}
# A literal that looks like SQL is a value like any other: stored and returned as given.
TRICKY = {
    "version": 1,
    "root": {"kind": "field", "field": "handset_brand", "op": "=", "value": "x'; DROP TABLE--"},
}


@pytest.fixture
def seeded(db: sessionmaker[Session]) -> sessionmaker[Session]:
    with UnitOfWork(db) as uow:
        seed_org(uow)
        uow.commit()
    return db


def _counts(db: sessionmaker[Session]) -> tuple[int, int]:
    with UnitOfWork(db) as uow:
        segments = uow.session.scalar(select(func.count()).select_from(Segment))
        versions = uow.session.scalar(select(func.count()).select_from(SegmentVersion))
    return int(segments or 0), int(versions or 0)


def test_edits_append_versions_and_keep_earlier_rules(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        created = service.create_segment(
            uow=uow, spec=SegmentCreate(name="  预付费  用户 ", rule=PREPAID, note="first")
        )
    assert created.name == "预付费 用户"
    assert created.org_code == "C01"  # the actor's own unit by default
    assert created.current_version == 1
    with UnitOfWork(seeded, actor=NANJING) as uow:
        edited = service.update_segment(
            uow=uow,
            segment_id=created.id,
            spec=SegmentUpdate(rule=LONG_TENURE, note="tenure instead"),
        )
        edited = service.update_segment(
            uow=uow, segment_id=created.id, spec=SegmentUpdate(rule=TRICKY, name="老用户")
        )
    assert edited.current_version == 3
    assert edited.name == "老用户"
    assert edited.rule["root"]["value"] == "x'; DROP TABLE--"
    with UnitOfWork(seeded, actor=NANJING) as uow:
        versions = service.list_versions(uow=uow, segment_id=created.id)
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[0].rule["root"]["field"] == "payment_type"
    assert versions[0].note == "first"
    assert versions[1].rule["root"]["kind"] == "tenure_months"
    assert {v.created_by for v in versions} == {"nj.analyst"}
    with UnitOfWork(seeded) as uow:
        audited = uow.session.scalars(
            select(AuditEntry.entity_type).where(
                AuditEntry.entity_type.in_(["segment", "segment_version"])
            )
        ).all()
    assert audited.count("segment_version") == 3


def test_invalid_rule_names_the_node_and_changes_nothing(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        kept = service.create_segment(uow=uow, spec=SegmentCreate(name="ok", rule=PREPAID))
    before = _counts(seeded)
    bad = {
        "version": 1,
        "root": {"all": [PREPAID["root"], {"kind": "tenure_months", "op": ">", "value": "many"}]},
    }
    with UnitOfWork(seeded, actor=NANJING) as uow, pytest.raises(InvalidRule) as caught:
        service.create_segment(uow=uow, spec=SegmentCreate(name="bad", rule=bad))
    assert "root.all[1]" in caught.value.message
    with UnitOfWork(seeded, actor=NANJING) as uow, pytest.raises(InvalidRule):
        service.update_segment(uow=uow, segment_id=kept.id, spec=SegmentUpdate(rule=bad))
    with UnitOfWork(seeded, actor=NANJING) as uow, pytest.raises(InvalidInput, match="name"):
        service.create_segment(uow=uow, spec=SegmentCreate(name=" \t ", rule=PREPAID))
    assert _counts(seeded) == before
    with UnitOfWork(seeded, actor=NANJING) as uow:
        assert service.get_segment(uow=uow, segment_id=kept.id).current_version == 1


def test_other_city_gets_not_found(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=WUXI) as uow:
        wuxi = service.create_segment(uow=uow, spec=SegmentCreate(name="无锡", rule=PREPAID))
    with UnitOfWork(seeded, actor=PROVINCE) as uow:
        province = service.create_segment(uow=uow, spec=SegmentCreate(name="全省", rule=PREPAID))
        assert {s.id for s in service.list_segments(uow=uow)} == {wuxi.id, province.id}
    before = _counts(seeded)
    with UnitOfWork(seeded, actor=NANJING) as uow:
        assert service.list_segments(uow=uow) == []
        for segment_id in (wuxi.id, province.id):
            with pytest.raises(NotFound):
                service.get_segment(uow=uow, segment_id=segment_id)
            with pytest.raises(NotFound):
                service.list_versions(uow=uow, segment_id=segment_id)
            with pytest.raises(NotFound):
                service.update_segment(
                    uow=uow, segment_id=segment_id, spec=SegmentUpdate(rule=LONG_TENURE)
                )
            with pytest.raises(NotFound):
                service.clone_segment(uow=uow, segment_id=segment_id, spec=SegmentClone())
            with pytest.raises(NotFound):
                service.set_status(uow=uow, segment_id=segment_id, status=SegmentStatus.ARCHIVED)
        with pytest.raises(NotFound):
            service.create_segment(
                uow=uow, spec=SegmentCreate(name="x", org_code="C02", rule=PREPAID)
            )
    assert _counts(seeded) == before


def test_archive_restore_and_clone(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        source = service.create_segment(uow=uow, spec=SegmentCreate(name="源", rule=PREPAID))
        service.update_segment(uow=uow, segment_id=source.id, spec=SegmentUpdate(rule=LONG_TENURE))
        archived = service.set_status(uow=uow, segment_id=source.id, status=SegmentStatus.ARCHIVED)
    assert archived.status is SegmentStatus.ARCHIVED
    with UnitOfWork(seeded, actor=NANJING) as uow:
        with pytest.raises(InvalidTransition, match="archived"):
            service.update_segment(uow=uow, segment_id=source.id, spec=SegmentUpdate(rule=PREPAID))
        with pytest.raises(InvalidTransition):
            service.set_status(uow=uow, segment_id=source.id, status=SegmentStatus.ARCHIVED)
        assert service.list_segments(uow=uow, status=SegmentStatus.ACTIVE) == []
        copy = service.clone_segment(uow=uow, segment_id=source.id, spec=SegmentClone())
    assert copy.id != source.id
    assert copy.name == "源 (copy)"
    assert copy.status is SegmentStatus.ACTIVE
    assert copy.current_version == 1
    assert copy.rule == LONG_TENURE
    with UnitOfWork(seeded, actor=NANJING) as uow:
        restored = service.set_status(uow=uow, segment_id=source.id, status=SegmentStatus.ACTIVE)
        assert restored.status is SegmentStatus.ACTIVE
        assert service.get_segment(uow=uow, segment_id=source.id).current_version == 2


def _refers(*segment_ids: int, version: int | None = None) -> dict[str, object]:
    references: list[dict[str, object]] = [
        {"kind": "segment", "segment_id": s, **({"version": version} if version else {})}
        for s in segment_ids
    ]
    return {"version": 1, "root": {"all": [PREPAID["root"], *references]}}


def test_reference_to_a_segment_of_another_city_is_refused(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=WUXI) as uow:
        wuxi = service.create_segment(uow=uow, spec=SegmentCreate(name="无锡", rule=PREPAID))
    with UnitOfWork(seeded, actor=PROVINCE) as uow:
        province = service.create_segment(uow=uow, spec=SegmentCreate(name="全省", rule=PREPAID))
    with UnitOfWork(seeded, actor=NANJING) as uow:
        own = service.create_segment(uow=uow, spec=SegmentCreate(name="南京", rule=PREPAID))
    before = _counts(seeded)
    for hidden in (wuxi.id, province.id, 99_999):
        with UnitOfWork(seeded, actor=NANJING) as uow, pytest.raises(InvalidRule) as caught:
            service.create_segment(uow=uow, spec=SegmentCreate(name="x", rule=_refers(hidden)))
        # The reference is named by its path; nothing tells whether the segment exists.
        assert caught.value.details == [
            {"path": "root.all[1].segment_id", "message": f"segment {hidden} not found"}
        ]
        with UnitOfWork(seeded, actor=NANJING) as uow, pytest.raises(InvalidRule):
            service.update_segment(
                uow=uow, segment_id=own.id, spec=SegmentUpdate(rule=_refers(hidden))
            )
    assert _counts(seeded) == before
    # The province sees Nanjing's and Wuxi's segments, so it may refer to them.
    with UnitOfWork(seeded, actor=PROVINCE) as uow:
        both = service.create_segment(
            uow=uow, spec=SegmentCreate(name="两市", rule=_refers(own.id, wuxi.id))
        )
    assert both.rule["root"]["all"][1] == {"kind": "segment", "segment_id": own.id}


def test_reference_to_a_missing_version_is_refused(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        base = service.create_segment(uow=uow, spec=SegmentCreate(name="基础", rule=PREPAID))
        pinned = service.create_segment(
            uow=uow, spec=SegmentCreate(name="固定版本", rule=_refers(base.id, version=1))
        )
        assert pinned.rule["root"]["all"][1]["version"] == 1
        with pytest.raises(InvalidRule, match=r"root\.all\[1\]\.segment_id: .*no version 2"):
            service.create_segment(
                uow=uow, spec=SegmentCreate(name="x", rule=_refers(base.id, version=2))
            )


def test_cycles_are_refused_with_the_path_and_the_chain(seeded: sessionmaker[Session]) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        a = service.create_segment(uow=uow, spec=SegmentCreate(name="A", rule=PREPAID))
        b = service.create_segment(uow=uow, spec=SegmentCreate(name="B", rule=_refers(a.id)))
        c = service.create_segment(uow=uow, spec=SegmentCreate(name="C", rule=_refers(b.id)))
    before = _counts(seeded)
    with UnitOfWork(seeded, actor=NANJING) as uow, pytest.raises(InvalidRule) as caught:
        service.update_segment(uow=uow, segment_id=a.id, spec=SegmentUpdate(rule=_refers(c.id)))
    path = f"root.all[1]→segment {c.id}.root.all[1]→segment {b.id}.root.all[1]"
    chain = f"segment {a.id} → segment {c.id} → segment {b.id} → segment {a.id}"
    assert caught.value.details == [
        {
            "path": path,
            "message": f"{chain}: a segment may not refer to itself, directly or through others",
        }
    ]
    # Directly, and to an earlier version of itself: a segment never depends on itself.
    for rule in (_refers(a.id), _refers(a.id, version=1)):
        with UnitOfWork(seeded, actor=NANJING) as uow, pytest.raises(InvalidRule, match="itself"):
            service.update_segment(uow=uow, segment_id=a.id, spec=SegmentUpdate(rule=rule))
    assert _counts(seeded) == before
    with UnitOfWork(seeded, actor=NANJING) as uow:
        assert service.get_segment(uow=uow, segment_id=a.id).current_version == 1
