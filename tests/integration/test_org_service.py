from __future__ import annotations

from datetime import date

import pytest

from telmark.actor import Actor
from telmark.errors import InvalidInput, NotFound
from telmark.org import service
from telmark.org.domain import OrgKind, UnitSpec
from telmark.org.service import StaffSpec
from telmark.uow import UnitOfWork

UNITS = [
    UnitSpec("P00", None, OrgKind.PROVINCE, "江苏省公司", "Jiangsu"),
    UnitSpec("C01", "P00", OrgKind.CITY, "南京分公司", "Nanjing"),
    UnitSpec("C02", "P00", OrgKind.CITY, "无锡分公司", "Wuxi"),
    UnitSpec("C01D01", "C01", OrgKind.DISTRICT, "玄武区"),
    UnitSpec("C01D01O001", "C01D01", OrgKind.OUTLET, "新街口营业厅"),
    UnitSpec("C01D01G001", "C01D01", OrgKind.GRID, "新街口网格"),
    UnitSpec("C02D01", "C02", OrgKind.DISTRICT, "梁溪区"),
]
STAFF = [
    StaffSpec("E001", "王芳", "P00", 1, 8, "marketing_planner", date(2015, 3, 1)),
    StaffSpec("E002", "李强", "C01", 2, 5, "city_marketing_manager", date(2018, 7, 1)),
    StaffSpec("E003", "张伟", "C01D01O001", 3, 2, "outlet_manager", date(2021, 1, 4)),
    StaffSpec("E004", "刘洋", "C02D01", 3, 3, "grid_manager", date(2020, 5, 6)),
]


def test_sync_creates_tree_and_is_idempotent(uow: UnitOfWork) -> None:
    first = service.sync_tree(uow=uow, units=UNITS, staff=STAFF)
    assert (first.units_created, first.staff_created) == (7, 4)
    again = service.sync_tree(uow=uow, units=list(reversed(UNITS)), staff=STAFF)
    assert again.model_dump() == {
        "units_created": 0,
        "units_updated": 0,
        "units_deactivated": 0,
        "staff_created": 0,
        "staff_updated": 0,
        "staff_deactivated": 0,
    }
    units = service.list_units(uow=uow)
    assert [u.code for u in units][:2] == ["P00", "C01"]
    assert len(units) == 7


def test_sync_moves_renames_and_deactivates(uow: UnitOfWork) -> None:
    # Also proves isolation: the tree of the previous test was rolled back.
    assert service.sync_tree(uow=uow, units=UNITS, staff=STAFF).units_created == 7
    moved = [u for u in UNITS if u.code not in {"C01D01G001"}]
    moved = [
        UnitSpec("C01D01", "C02", OrgKind.DISTRICT, "玄武区(划转)") if u.code == "C01D01" else u
        for u in moved
    ]
    report = service.sync_tree(uow=uow, units=moved, staff=STAFF[:3])
    assert report.units_deactivated == 1
    assert report.staff_deactivated == 1
    assert report.units_updated >= 2  # the district and the outlet beneath it (new path)
    outlet = service.get_unit(uow=uow, code="C01D01O001")
    assert [a.code for a in outlet.ancestors] == ["P00", "C02", "C01D01"]
    inactive = service.list_units(uow=uow, include_inactive=True)
    assert {u.code for u in inactive if not u.active} == {"C01D01G001"}


def test_browse_subtree_and_staff(uow: UnitOfWork) -> None:
    service.sync_tree(uow=uow, units=UNITS, staff=STAFF)
    nanjing = service.list_units(uow=uow, root="C01")
    assert {u.code for u in nanjing} == {"C01", "C01D01", "C01D01O001", "C01D01G001"}
    shallow = service.list_units(uow=uow, root="P00", max_depth=1)
    assert {u.code for u in shallow} == {"P00", "C01", "C02"}
    detail = service.get_unit(uow=uow, code="C01")
    assert detail.child_count == 1
    assert detail.staff_count == 1
    assert [c.code for c in detail.children] == ["C01D01"]
    below = service.list_staff(uow=uow, code="C01", include_descendants=True)
    assert [s.code for s in below] == ["E002", "E003"]
    assert [s.code for s in service.list_staff(uow=uow, code="C01")] == ["E002"]


def test_bad_input_changes_nothing(uow: UnitOfWork) -> None:
    service.sync_tree(uow=uow, units=UNITS, staff=STAFF)
    broken = [*UNITS, UnitSpec("C03", "P404", OrgKind.CITY, "苏州")]
    with pytest.raises(InvalidInput):
        service.sync_tree(uow=uow, units=broken, staff=STAFF)
    with pytest.raises(InvalidInput, match="grade"):
        service.sync_tree(
            uow=uow,
            units=UNITS,
            staff=[StaffSpec("E9", "赵六", "P00", 1, 11, "analyst", date(2020, 1, 1))],
        )
    with pytest.raises(NotFound):
        service.sync_tree(
            uow=uow,
            units=UNITS[:3],
            staff=[StaffSpec("E9", "赵六", "C01D01", 2, 1, "analyst", date(2020, 1, 1))],
        )
    uow.rollback()
    assert len(service.list_units(uow=uow)) == 7
    with pytest.raises(NotFound):
        service.get_unit(uow=uow, code="C03")


def test_a_city_actor_sees_only_its_city(uow: UnitOfWork) -> None:
    service.sync_tree(uow=uow, units=UNITS, staff=STAFF)
    uow.actor = Actor(username="nj", scope_path="/P00/C01/")
    assert [u.code for u in service.list_units(uow=uow)] == [
        "C01",
        "C01D01",
        "C01D01G001",
        "C01D01O001",
    ]
    assert [u.code for u in service.list_units(uow=uow, max_depth=1)] == ["C01", "C01D01"]
    outlet = service.get_unit(uow=uow, code="C01D01O001")
    assert [a.code for a in outlet.ancestors] == ["C01", "C01D01"]  # not the province
    for code in ("C02", "C02D01", "P00"):
        with pytest.raises(NotFound):
            service.get_unit(uow=uow, code=code)
        with pytest.raises(NotFound):
            service.list_staff(uow=uow, code=code)
        with pytest.raises(NotFound):
            service.list_units(uow=uow, root=code)
