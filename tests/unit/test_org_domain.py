from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.errors import InvalidInput
from telmark.org.domain import OrgKind, UnitSpec, is_within, order_tree, path_of


def _tree() -> list[UnitSpec]:
    return [
        UnitSpec("C01D01O001", "C01D01", OrgKind.OUTLET, "新街口营业厅"),
        UnitSpec("C01", "P00", OrgKind.CITY, "南京"),
        UnitSpec("P00", None, OrgKind.PROVINCE, "江苏"),
        UnitSpec("C01D01", "C01", OrgKind.DISTRICT, "玄武区"),
        UnitSpec("C01K", "C01", OrgKind.KEY_ACCOUNT_CENTRE, "南京政企客户中心"),
    ]


def test_order_tree_puts_parents_first() -> None:
    ordered = [u.code for u in order_tree(_tree())]
    assert ordered[0] == "P00"
    for unit in _tree():
        if unit.parent_code:
            assert ordered.index(unit.parent_code) < ordered.index(unit.code)


def test_order_tree_reports_every_problem() -> None:
    units = [
        *_tree(),
        UnitSpec("C02", "P99", OrgKind.CITY, "无锡"),  # unknown parent
        UnitSpec("C01D01G1", "C01K", OrgKind.GRID, "网格"),  # grid under key-account centre
        UnitSpec("C01", "P00", OrgKind.CITY, "南京"),  # duplicate code
    ]
    with pytest.raises(InvalidInput) as caught:
        order_tree(units)
    reasons = {(d["code"], str(d["reason"])[:20]) for d in caught.value.details}
    assert ("C02", "unknown parent P99") in reasons
    assert any(code == "C01D01G1" for code, _ in reasons)
    assert any(code == "C01" and r.startswith("duplicate") for code, r in reasons)


def test_order_tree_rejects_two_roots_and_cycles() -> None:
    with pytest.raises(InvalidInput) as caught:
        order_tree([*_tree(), UnitSpec("P01", None, OrgKind.PROVINCE, "浙江")])
    assert "exactly one root" in str(caught.value.details[0]["reason"])
    cyclic = [
        UnitSpec("P00", None, OrgKind.PROVINCE, "江苏"),
        UnitSpec("G1", "G2", OrgKind.GRID, "甲"),
        UnitSpec("G2", "G1", OrgKind.GRID, "乙"),
    ]
    with pytest.raises(InvalidInput):
        order_tree(cyclic)


def test_paths_nest() -> None:
    city = path_of(path_of(None, "P00"), "C01")
    assert city == "/P00/C01/"
    outlet = path_of(path_of(city, "C01D01"), "C01D01O001")
    assert is_within(outlet, city)
    assert not is_within(city, outlet)
    # A sibling whose code extends another's must not count as inside it.
    assert not is_within(path_of("/P00/", "C011"), city)


@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=40))
def test_random_trees_always_order_parents_first(parents: list[int]) -> None:
    # Unit i+1 hangs under an earlier unit (a grid under a district or outlet).
    units = [UnitSpec("P", None, OrgKind.PROVINCE, "p"), UnitSpec("C", "P", OrgKind.CITY, "c")]
    districts = [UnitSpec("D0", "C", OrgKind.DISTRICT, "d")]
    outlets: list[UnitSpec] = []
    for i, choice in enumerate(parents):
        parent = districts[choice % len(districts)]
        outlets.append(UnitSpec(f"O{i}", parent.code, OrgKind.OUTLET, "o"))
        if choice % 3 == 0:
            districts.append(UnitSpec(f"D{i + 1}", "C", OrgKind.DISTRICT, "d"))
    shuffled = list(reversed(units + districts + outlets))
    ordered = order_tree(shuffled)
    position = {u.code: n for n, u in enumerate(ordered)}
    assert len(ordered) == len(shuffled)
    for unit in ordered:
        if unit.parent_code:
            assert position[unit.parent_code] < position[unit.code]
