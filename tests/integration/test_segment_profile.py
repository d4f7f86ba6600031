"""Segment profile, overlap and size trend agree with an independent pandas computation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pytest
from ibis.backends import BaseBackend

from telmark.errors import InvalidInput
from telmark.segments.compile import compile_rule
from telmark.segments.profile import SegmentProfile, overlap, profile, size_trend
from telmark.segments.rules import parse_rule
from telmark.warehouse.scope import scoped
from tests._factories.segments import (
    PandasWarehouse,
    add_analysis_tables,
    load_warehouse,
    province_directory,
)

AS_OF = date(2026, 9, 1)
MONTHS = [date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1)]

VALUABLE: dict[str, Any] = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "status", "op": "=", "value": "active"},
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "avg",
                "months": 2,
                "op": ">=",
                "value": 5000,
            },
        ]
    },
}
POSTPAID_5G: dict[str, Any] = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
            {"kind": "field", "field": "handset_5g", "op": "=", "value": True},
        ]
    },
}
SEASONED: dict[str, Any] = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "tenure_months", "op": ">=", "value": 24},
            {
                "kind": "usage",
                "measure": "data_mb",
                "agg": "max",
                "months": 1,
                "op": ">",
                "value": 0,
            },
        ]
    },
}


@dataclass
class World:
    directory: Path
    con: BaseBackend
    pandas: PandasWarehouse
    province: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("segment-profile")
    directory = province_directory(root, seed=17)
    con = load_warehouse(directory, root / "w.duckdb")
    add_analysis_tables(con, seed=17)
    frames = PandasWarehouse.read(con)
    units = con.table("org_units").to_pyarrow().to_pandas()
    frames.frames["org_units"] = units
    province = str(units.loc[units["parent_id"].isna(), "org_id"].iloc[0])
    yield World(directory=directory, con=con, pandas=frames, province=province)
    con.disconnect()


def _ids(con: BaseBackend, rule: dict[str, Any]) -> set[int]:
    table = compile_rule(con, parse_rule(rule)).to_pyarrow()
    return set(table.column("subscriber_id").to_pylist())


# -- the independent computation -----------------------------------------------------------


def _arpu_band(fen: float) -> str:
    if pd.isna(fen):
        return "no_usage"
    yuan = fen / 100
    for label, high in (("0-30", 30), ("30-60", 60), ("60-100", 100), ("100-200", 200)):
        if yuan < high:
            return label
    return "200+"


def _tenure_band(months: int) -> str:
    if months < 0:
        return "joined_later"
    for label, high in (("0-11", 12), ("12-35", 36), ("36-59", 60), ("60-119", 120)):
        if months < high:
            return label
    return "120+"


def _expected(
    w: World, members: set[int], *, under: str | None = None
) -> dict[str, dict[str, tuple[int, int]]]:
    """Per dimension, key → (segment count, base count), computed in pandas."""
    f = w.pandas.frames
    subs = f["subscribers"]
    closure = f["org_closure"]
    if under is not None:
        below = set(closure.loc[closure["ancestor_id"] == under, "descendant_id"])
        subs = subs[subs["org_id"].isin(below)]
    subs = subs.set_index("subscriber_id")
    city_of = closure[closure["ancestor_kind"] == "city"].set_index("descendant_id")["ancestor_id"]
    family = f["products"].set_index("product_id")["family"]
    usage = f["usage_monthly"]
    arpu = usage[usage["month"] == AS_OF].set_index("subscriber_id")["arpu_fen"]
    tier = f["customer_value"].set_index("subscriber_id")["value_tier"]
    band = f["churn_scores"].set_index("subscriber_id")["risk_band"]
    as_of_index = AS_OF.year * 12 + AS_OF.month
    keys = {
        "city": subs["org_id"].map(city_of).fillna("-"),
        "plan_family": subs["plan_id"].map(family),
        "payment_type": subs["payment_type"],
        "arpu_band": subs.index.to_series().map(arpu).map(_arpu_band),
        "tenure_band": subs["join_date"].map(
            lambda d: _tenure_band(as_of_index - (d.year * 12 + d.month))
        ),
        "value_tier": subs.index.to_series().map(tier).fillna("none"),
        "churn_risk_band": subs.index.to_series().map(band).fillna("none"),
        "handset_5g": subs["handset_5g"].map(lambda v: "true" if v else "false"),
    }
    in_segment = subs.index.to_series().isin(members)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for dimension, key in keys.items():
        frame = pd.DataFrame({"key": key.to_numpy(), "seg": in_segment.to_numpy()})
        grouped = frame.groupby("key")["seg"].agg(["sum", "count"])
        out[dimension] = {str(k): (int(r["sum"]), int(r["count"])) for k, r in grouped.iterrows()}
    return out


def _observed(result: SegmentProfile) -> dict[str, dict[str, tuple[int, int]]]:
    return {
        d.dimension: {b.key: (b.segment, b.base) for b in d.buckets} for d in result.distributions
    }


# -- profile ---------------------------------------------------------------------------------


def test_every_distribution_matches_pandas(world: World) -> None:
    members = _ids(world.con, VALUABLE)
    assert members == world.pandas.members(VALUABLE)
    result = profile(world.con, compile_rule(world.con, parse_rule(VALUABLE)))
    expected = _expected(world, members)
    assert result.as_of == AS_OF
    assert result.notes == []
    assert _observed(result) == expected
    assert result.size == len(members)
    assert result.base_size == len(world.pandas.frames["subscribers"])
    assert result.share_of_base == pytest.approx(len(members) / result.base_size)
    # A selective segment on ARPU must be over-represented in the top ARPU band.
    arpu = next(d for d in result.distributions if d.dimension == "arpu_band")
    top = next(b for b in arpu.buckets if b.key == "200+")
    assert top.index is not None
    assert top.index > 100
    assert [b.key for b in arpu.buckets] == [
        k
        for k in ("0-30", "30-60", "60-100", "100-200", "200+", "no_usage")
        if k in expected["arpu_band"]
    ]


def test_shares_and_index_follow_from_counts(world: World) -> None:
    members = _ids(world.con, POSTPAID_5G)
    result = profile(world.con, compile_rule(world.con, parse_rule(POSTPAID_5G)))
    for distribution in result.distributions:
        assert sum(b.segment for b in distribution.buckets) == len(members)
        for b in distribution.buckets:
            assert b.segment_share == pytest.approx(b.segment / len(members))
            assert b.base_share == pytest.approx(b.base / result.base_size)
            assert b.index == pytest.approx(b.segment_share / b.base_share * 100)
    payment = next(d for d in result.distributions if d.dimension == "payment_type")
    assert {b.key: b.segment for b in payment.buckets}.get("prepaid", 0) == 0
    handset = next(d for d in result.distributions if d.dimension == "handset_5g")
    assert [(b.key, b.segment_share) for b in handset.buckets][0] == ("true", 1.0)


def test_profile_at_an_earlier_month_bands_that_month(world: World) -> None:
    members = _ids(world.con, SEASONED)
    result = profile(world.con, compile_rule(world.con, parse_rule(SEASONED)), as_of=MONTHS[0])
    assert result.as_of == MONTHS[0]
    f = world.pandas.frames
    usage = f["usage_monthly"]
    arpu = usage[usage["month"] == MONTHS[0]].set_index("subscriber_id")["arpu_fen"]
    subs = f["subscribers"].set_index("subscriber_id")
    keys = subs.index.to_series().map(arpu).map(_arpu_band)
    expected = {
        str(k): (int(sum(1 for s in ids if s in members)), len(ids))
        for k, ids in keys.groupby(keys).groups.items()
    }
    observed = _observed(result)["arpu_band"]
    assert observed == expected


def test_repeated_members_count_once_and_an_empty_segment_has_no_index(world: World) -> None:
    members = compile_rule(world.con, parse_rule(VALUABLE))
    twice = members.union(members, distinct=False)
    assert profile(world.con, twice) == profile(world.con, members)
    nobody = members.filter(members.subscriber_id < 0)
    empty = profile(world.con, nobody)
    assert empty.size == 0
    assert empty.share_of_base == 0.0
    assert all(b.index is None for d in empty.distributions for b in d.buckets)
    assert empty.base_size == len(world.pandas.frames["subscribers"])


def test_without_analysis_tables_value_and_churn_are_left_out(world: World, tmp_path: Path) -> None:
    bare = load_warehouse(world.directory, tmp_path / "bare.duckdb")
    try:
        result = profile(bare, compile_rule(bare, parse_rule(POSTPAID_5G)))
    finally:
        bare.disconnect()
    dimensions = [d.dimension for d in result.distributions]
    assert "value_tier" not in dimensions
    assert "churn_risk_band" not in dimensions
    assert "city" in dimensions
    assert any("customer_value" in n for n in result.notes)
    assert any("churn_scores" in n for n in result.notes)


def test_profile_on_a_city_scoped_warehouse(world: World) -> None:
    city = scoped(world.con, org_code="C01", org_path=f"/{world.province}/C01/")
    province_members = compile_rule(world.con, parse_rule(VALUABLE))
    result = profile(city, province_members)
    in_city = _ids(city, VALUABLE)
    assert 0 < len(in_city) < len(_ids(world.con, VALUABLE))
    expected = _expected(world, in_city, under="C01")
    # Province-wide members outside the city are not counted against the city's base.
    assert _observed(result) == expected
    assert result.size == len(in_city)
    assert {b.key for d in result.distributions if d.dimension == "city" for b in d.buckets} == {
        "C01"
    }


# -- overlap -------------------------------------------------------------------------------


def test_overlap_matches_set_intersections(world: World) -> None:
    rules = {"valuable": VALUABLE, "postpaid_5g": POSTPAID_5G, "seasoned": SEASONED}
    sets = {name: _ids(world.con, rule) for name, rule in rules.items()}
    tables = {name: compile_rule(world.con, parse_rule(rule)) for name, rule in rules.items()}
    matrix = overlap(world.con, tables)
    assert matrix.names == list(rules)
    assert matrix.sizes == [len(s) for s in sets.values()]
    values = list(sets.values())
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            assert matrix.intersections[i][j] == len(a & b)
            assert matrix.jaccard[i][j] == pytest.approx(len(a & b) / len(a | b))
    assert 0 < matrix.intersections[0][1] < min(matrix.sizes[:2])  # a real, partial overlap


def test_overlap_on_a_scoped_warehouse_counts_only_the_scope(world: World) -> None:
    city = scoped(world.con, org_code="C01", org_path=f"/{world.province}/C01/")
    tables = {
        "valuable": compile_rule(world.con, parse_rule(VALUABLE)),
        "postpaid_5g": compile_rule(world.con, parse_rule(POSTPAID_5G)),
    }
    matrix = overlap(city, tables)
    a, b = _ids(city, VALUABLE), _ids(city, POSTPAID_5G)
    assert matrix.sizes == [len(a), len(b)]
    assert matrix.intersections[0][1] == len(a & b)


def test_overlap_needs_a_segment(world: World) -> None:
    with pytest.raises(InvalidInput, match="at least one segment"):
        overlap(world.con, {})


# -- size trend ----------------------------------------------------------------------------


def at(con: BaseBackend, rule: dict[str, Any]) -> Callable[[date], ir.Table]:
    parsed = parse_rule(rule)
    return lambda month: compile_rule(con, parsed, as_of=month)


def test_size_trend_matches_counts_per_month(world: World) -> None:
    points = size_trend(at(world.con, SEASONED), [MONTHS[2], *MONTHS[:2], MONTHS[3]])
    assert [p.month for p in points] == MONTHS
    expected = [len(world.pandas.members(SEASONED, as_of=m)) for m in MONTHS]
    assert [p.count for p in points] == expected
    assert len(set(expected)) > 1  # the size really moves with the month
    assert size_trend(at(world.con, SEASONED), []) == []


def test_size_trend_on_a_scoped_warehouse(world: World) -> None:
    city = scoped(world.con, org_code="C01", org_path=f"/{world.province}/C01/")
    points = size_trend(at(city, VALUABLE), MONTHS[-2:])
    for p in points:
        members = compile_rule(city, parse_rule(VALUABLE), as_of=p.month)
        assert p.count == members.count().to_pyarrow().as_py()
    province = size_trend(at(world.con, VALUABLE), MONTHS[-2:])
    assert all(c.count < p.count for c, p in zip(points, province, strict=True))
