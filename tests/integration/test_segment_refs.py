"""``segment`` conditions: references inlined into one query, versions, depth, scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ibis
import pytest
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.segments import service
from telmark.segments.compile import compile_rule
from telmark.segments.rules import MAX_REFERENCE_DEPTH, InvalidRule, parse_rule
from telmark.segments.schemas import SegmentCreate, SegmentUpdate
from telmark.uow import UnitOfWork
from tests._factories.auth import seed_org
from tests._factories.segments import Library, PandasWarehouse, load_warehouse, province_directory

PROVINCE = Actor(username="planner", channel="web", scope_path="/P00/")
NANJING = Actor(username="nj.analyst", channel="web", scope_path="/P00/C01/")

HIGH_ARPU = {
    "kind": "usage",
    "measure": "arpu_fen",
    "agg": "avg",
    "months": 3,
    "op": ">=",
    "value": 3000,
}
POSTPAID = {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"}
RECENT_SMS = {"kind": "contacted", "days": 45, "channels": ["sms"]}


def doc(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseBackend]:
    root = tmp_path_factory.mktemp("segment-refs")
    warehouse = load_warehouse(province_directory(root, subscribers=800, seed=9), root / "w.duckdb")
    yield warehouse
    warehouse.disconnect()


def members(con: BaseBackend, rule: dict[str, Any], library: Library | None = None) -> set[int]:
    resolve = (library or Library()).resolver()
    table = compile_rule(con, parse_rule(rule), resolve=resolve).to_pyarrow()
    return set(table.column("subscriber_id").to_pylist())


def test_a_reference_selects_the_members_of_the_referenced_version(con: BaseBackend) -> None:
    library = Library({7: [doc(HIGH_ARPU), doc({"all": [HIGH_ARPU, RECENT_SMS]})]})
    current = members(con, doc({"all": [POSTPAID, {"kind": "segment", "segment_id": 7}]}), library)
    first = members(
        con, doc({"all": [POSTPAID, {"kind": "segment", "segment_id": 7, "version": 1}]}), library
    )
    assert current == members(con, doc({"all": [POSTPAID, HIGH_ARPU, RECENT_SMS]}))
    assert first == members(con, doc({"all": [POSTPAID, HIGH_ARPU]}))
    assert 0 < len(current) < len(first)  # the current version is narrower
    outside = members(con, doc({"not": {"kind": "segment", "segment_id": 7}}), library)
    everyone = con.table("subscribers").count().to_pyarrow().as_py()
    assert len(outside) + len(members(con, doc(library.rule(7, None)["root"]))) == everyone
    assert outside == PandasWarehouse.read(con).members(
        doc({"not": {"kind": "segment", "segment_id": 7}}), library=library
    )


def test_a_referenced_rule_is_inlined_into_one_query(con: BaseBackend) -> None:
    # Same windows and flags as the rule written out by hand: the SQL is identical,
    # so the usage window the two share is aggregated once.
    library = Library({3: [doc({"all": [HIGH_ARPU, RECENT_SMS]})]})
    referring = parse_rule(
        doc({"any": [{"all": [HIGH_ARPU, POSTPAID]}, {"kind": "segment", "segment_id": 3}]})
    )
    by_hand = parse_rule(
        doc({"any": [{"all": [HIGH_ARPU, POSTPAID]}, {"all": [HIGH_ARPU, RECENT_SMS]}]})
    )
    inlined = ibis.to_sql(compile_rule(con, referring, resolve=library.resolver()))
    written = ibis.to_sql(compile_rule(con, by_hand))
    assert inlined == written
    assert str(inlined).count('FROM "contact_history"') == 1


def test_without_a_resolver_a_reference_is_an_invalid_rule(con: BaseBackend) -> None:
    rule = parse_rule(doc({"all": [POSTPAID, {"not": {"kind": "segment", "segment_id": 4}}]}))
    with pytest.raises(InvalidRule) as caught:
        compile_rule(con, rule)
    assert caught.value.details[0]["path"] == "root.all[1].not"
    assert "segment 4" in str(caught.value.details[0]["message"])


def test_references_nest_at_most_the_limit(con: BaseBackend) -> None:
    # Segment k refers to segment k - 1; segment 1 is a plain rule.
    chain = Library({1: [doc(POSTPAID)]})
    for k in range(2, MAX_REFERENCE_DEPTH + 2):
        chain.versions[k] = [doc({"kind": "segment", "segment_id": k - 1})]
    deepest_allowed = doc({"kind": "segment", "segment_id": MAX_REFERENCE_DEPTH})
    assert members(con, deepest_allowed, chain) == members(con, doc(POSTPAID))
    too_deep = doc({"kind": "segment", "segment_id": MAX_REFERENCE_DEPTH + 1})
    with pytest.raises(InvalidRule, match=f"nest more than {MAX_REFERENCE_DEPTH} deep"):
        members(con, too_deep, chain)


def test_a_cycle_in_the_library_is_named(con: BaseBackend) -> None:
    library = Library(
        {
            1: [doc({"all": [POSTPAID, {"kind": "segment", "segment_id": 2}]})],
            2: [doc({"any": [HIGH_ARPU, {"kind": "segment", "segment_id": 1}]})],
        }
    )
    with pytest.raises(InvalidRule) as caught:
        members(con, doc({"kind": "segment", "segment_id": 1}), library)
    assert caught.value.details == [
        {
            "path": "root→segment 1.root.all[1]→segment 2.root.any[1]",
            "message": "segment 1 → segment 2 → segment 1: "
            "a segment may not refer to itself, directly or through others",
        }
    ]


@pytest.fixture
def seeded(db: sessionmaker[Session]) -> sessionmaker[Session]:
    with UnitOfWork(db) as uow:
        seed_org(uow)
        uow.commit()
    return db


def test_saved_segments_count_through_their_references(
    seeded: sessionmaker[Session], con: BaseBackend
) -> None:
    with UnitOfWork(seeded, actor=NANJING) as uow:
        base = service.create_segment(
            uow=uow, spec=SegmentCreate(name="高ARPU", rule=doc(HIGH_ARPU))
        )
        refined = service.create_segment(
            uow=uow,
            spec=SegmentCreate(
                name="高ARPU后付费",
                rule=doc({"all": [POSTPAID, {"kind": "segment", "segment_id": base.id}]}),
            ),
        )
        expected = len(members(con, doc({"all": [POSTPAID, HIGH_ARPU]})))
        assert service.count_segment(uow=uow, con=con, segment_id=refined.id).count == expected
        # Editing the referenced segment changes what an unpinned reference selects.
        service.update_segment(
            uow=uow,
            segment_id=base.id,
            spec=SegmentUpdate(rule=doc({"all": [HIGH_ARPU, RECENT_SMS]})),
        )
        narrower = len(members(con, doc({"all": [POSTPAID, HIGH_ARPU, RECENT_SMS]})))
        assert service.count_segment(uow=uow, con=con, segment_id=refined.id).count == narrower
        assert narrower < expected


def test_a_reference_the_reader_cannot_see_names_its_path(
    seeded: sessionmaker[Session], con: BaseBackend
) -> None:
    # The province owns a segment and gives Nanjing one that refers to it: Nanjing may
    # count its own segment, but the reference is out of its sight.
    with UnitOfWork(seeded, actor=PROVINCE) as uow:
        hidden = service.create_segment(
            uow=uow, spec=SegmentCreate(name="全省", rule=doc(POSTPAID))
        )
        given = service.create_segment(
            uow=uow,
            spec=SegmentCreate(
                name="南京派生",
                org_code="C01",
                rule=doc({"all": [HIGH_ARPU, {"kind": "segment", "segment_id": hidden.id}]}),
            ),
        )
        assert service.count_segment(uow=uow, con=con, segment_id=given.id).count > 0
    with UnitOfWork(seeded, actor=NANJING) as uow:
        assert service.get_segment(uow=uow, segment_id=given.id).id == given.id
        with pytest.raises(InvalidRule) as caught:
            service.count_segment(uow=uow, con=con, segment_id=given.id)
    assert caught.value.details == [
        {"path": "root.all[1].segment_id", "message": f"segment {hidden.id} not found"}
    ]
