"""Random rule trees give exactly the same members on DuckDB as an independent pandas check.

Trees may refer to a small library of saved segments drawn with them (each
entry referring only to earlier ones, so the library is acyclic); the
compiler gets the library as its resolver, the pandas check reads it directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ibis.backends import BaseBackend

from telmark.segments.compile import compile_rule, count
from telmark.segments.fields import (
    CHURN_FIELDS,
    CONTACT_CHANNELS,
    CONTACT_OUTCOMES,
    NUMERIC_OPS,
    SUBSCRIBER_FIELDS,
    VALUE_FIELDS,
    Field,
    Op,
)
from telmark.segments.rules import parse_rule
from telmark.warehouse.contract import ColType
from tests._factories.segments import (
    Library,
    PandasWarehouse,
    add_analysis_tables,
    load_warehouse,
    province_directory,
)

MEASURES = ("arpu_fen", "data_mb", "voice_min", "sms_count", "dropped_calls", "roaming_fen")


@dataclass
class World:
    con: BaseBackend
    pandas: PandasWarehouse
    pools: dict[str, list[Any]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("segments")
    con = load_warehouse(province_directory(root, seed=11), root / "w.duckdb")
    add_analysis_tables(con, seed=11)
    frames = PandasWarehouse.read(con)
    subs = frames.frames["subscribers"]
    usage = frames.frames["usage_monthly"]
    pools: dict[str, list[Any]] = {}
    for name in SUBSCRIBER_FIELDS:
        values = subs[name].dropna()
        pools[name] = sorted(set(values.sample(min(25, len(values)), random_state=1)), key=str)
    for measure in MEASURES:
        pools[measure] = [int(usage[measure].quantile(q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)]
    products = frames.frames["products"]
    pools["product_id"] = sorted(products["product_id"])[:30]
    units = frames.frames["org_closure"]["ancestor_id"].drop_duplicates()
    pools["org_id"] = sorted(units.sample(40, random_state=1))  # province, cities … outlets
    contacts = frames.frames["contact_history"]
    assert contacts["case_code"].isna().any()
    assert contacts["case_code"].notna().any()
    # Every case of the window, and one no contact has.
    pools["case_code"] = [*sorted(contacts["case_code"].dropna().unique()), "YX-NONE'; --"]
    yield World(con=con, pandas=frames, pools=pools)
    con.disconnect()


def _scalar(target: Field, pool: list[Any], draw: st.DrawFn) -> Any:
    if target.type is ColType.DATE:
        return draw(st.sampled_from(pool)).isoformat()
    if target.type is ColType.BOOL:
        return draw(st.booleans())
    if target.allowed is not None and draw(st.booleans()):
        return draw(st.sampled_from(target.allowed))
    if target.type is ColType.INT:
        return int(draw(st.sampled_from(pool)))
    return draw(st.sampled_from(pool))


def _value(target: Field, op: Op, pool: list[Any], draw: st.DrawFn) -> Any:
    if op in (Op.IS_NULL, Op.NOT_NULL):
        return None
    if op in (Op.IN, Op.NOT_IN):
        return [_scalar(target, pool, draw) for _ in range(draw(st.integers(1, 3)))]
    if op is Op.BETWEEN:
        return sorted([_scalar(target, pool, draw), _scalar(target, pool, draw)])
    return _scalar(target, pool, draw)


def leaves(
    pools: dict[str, list[Any]], library: Library | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def field(draw: st.DrawFn) -> dict[str, Any]:
        name = draw(st.sampled_from(sorted(SUBSCRIBER_FIELDS)))
        target = SUBSCRIBER_FIELDS[name]
        op = draw(st.sampled_from(sorted(target.ops)))
        return {
            "kind": "field",
            "field": name,
            "op": op.value,
            "value": _value(target, op, pools[name], draw),
        }

    def number(draw: st.DrawFn, pool: list[Any]) -> tuple[str, Any]:
        op = draw(st.sampled_from(sorted(NUMERIC_OPS)))
        if op is Op.BETWEEN:
            return op.value, sorted([draw(st.sampled_from(pool)), draw(st.sampled_from(pool))])
        return op.value, draw(st.sampled_from(pool))

    @st.composite
    def usage(draw: st.DrawFn) -> dict[str, Any]:
        measure = draw(st.sampled_from(MEASURES))
        agg = draw(st.sampled_from(["avg", "sum", "min", "max"]))
        months = draw(st.integers(1, 5))
        pool = [v * (months if agg == "sum" else 1) for v in pools[measure]]
        if agg == "avg":
            pool += [v + 0.5 for v in pool]
        op, value = number(draw, pool)
        return {
            "kind": "usage",
            "measure": measure,
            "agg": agg,
            "months": months,
            "op": op,
            "value": value,
        }

    @st.composite
    def trend(draw: st.DrawFn) -> dict[str, Any]:
        measure = draw(st.sampled_from(MEASURES))
        spread = max(pools[measure][-1] - pools[measure][0], 1)
        op, value = number(draw, [-spread / 4, -spread / 20, 0, 0.5, spread / 20, spread / 4])
        return {
            "kind": "trend",
            "measure": measure,
            "months": draw(st.integers(2, 4)),
            "op": op,
            "value": value,
        }

    @st.composite
    def recharges(draw: st.DrawFn) -> dict[str, Any]:
        stat = draw(st.sampled_from(["count", "sum"]))
        pool = [0, 1, 2, 3, 5] if stat == "count" else [0, 1_000, 5_000, 10_000, 30_000]
        op, value = number(draw, pool)
        return {
            "kind": "recharges",
            "stat": stat,
            "months": draw(st.integers(1, 4)),
            "op": op,
            "value": value,
        }

    @st.composite
    def has_product(draw: st.DrawFn) -> dict[str, Any]:
        node: dict[str, Any] = {"kind": "has_product"}
        choice = draw(st.sampled_from(["product_id", "family", "product_kind", "both"]))
        if choice == "product_id":
            node["product_id"] = draw(st.sampled_from(pools["product_id"]))
        if choice in ("family", "both"):
            node["family"] = draw(
                st.sampled_from(["5g_plan", "4g_plan", "family", "data_pack", "broadband"])
            )
        if choice in ("product_kind", "both"):
            node["product_kind"] = draw(st.sampled_from(["plan", "bundle", "addon", "broadband"]))
        return node

    @st.composite
    def tenure(draw: st.DrawFn) -> dict[str, Any]:
        op, value = number(draw, [0, 3, 12, 24, 60, 120])
        return {"kind": "tenure_months", "op": op, "value": value}

    @st.composite
    def derived(draw: st.DrawFn) -> dict[str, Any]:
        kind = draw(st.sampled_from(["value", "churn"]))
        catalogue = VALUE_FIELDS if kind == "value" else CHURN_FIELDS
        name = draw(st.sampled_from(sorted(catalogue)))
        target = catalogue[name]
        op = draw(st.sampled_from(sorted(target.ops)))
        pools_by_field: dict[str, list[Any]] = {
            "rfm_score": [3, 6, 9, 12, 15],
            "clv_fen": [0, 10_000, 100_000, 190_000],
            "decayed_value_fen": [0, 10_000, 40_000],
            "churn_probability": [0.0, 0.1, 0.25, 0.5, 0.999],
            "risk_decile": [1, 3, 5, 8, 10],
        }
        pool = pools_by_field.get(name, list(target.allowed or ()))
        return {
            "kind": kind,
            "field": name,
            "op": op.value,
            "value": _value(target, op, pool, draw),
        }

    @st.composite
    def enterprise(draw: st.DrawFn) -> dict[str, Any]:
        node: dict[str, Any] = {"kind": "enterprise"}
        if draw(st.booleans()):
            node["tiers"] = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=2))
        if draw(st.booleans()):
            node["industries"] = draw(
                st.lists(
                    st.sampled_from(["finance", "retail", "government", "logistics"]),
                    min_size=1,
                    max_size=3,
                )
            )
        return node

    @st.composite
    def contacted(draw: st.DrawFn) -> dict[str, Any]:
        node: dict[str, Any] = {
            "kind": "contacted",
            "days": draw(st.sampled_from([1, 7, 14, 30, 45, 61, 90, 130])),
        }
        for key, values in (
            ("channels", sorted(CONTACT_CHANNELS)),
            ("case_codes", pools["case_code"]),
            ("outcomes", sorted(CONTACT_OUTCOMES)),
        ):
            if draw(st.booleans()):
                node[key] = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
        return node

    @st.composite
    def segment(draw: st.DrawFn) -> dict[str, Any]:
        assert library is not None
        segment_id = draw(st.sampled_from(sorted(library.versions)))
        versions = len(library.versions[segment_id])
        version = draw(st.one_of(st.none(), st.integers(1, versions)))
        node: dict[str, Any] = {"kind": "segment", "segment_id": segment_id}
        if version is not None:
            node["version"] = version
        return node

    referring = [segment()] if library is not None and library.versions else []
    return st.one_of(
        *referring,
        contacted(),
        field(),
        usage(),
        trend(),
        recharges(),
        has_product(),
        tenure(),
        derived(),
        enterprise(),
        st.builds(
            lambda d: {"kind": "contract_ends_within_days", "days": d},
            st.sampled_from([0, 30, 90, 400]),
        ),
        st.builds(
            lambda h: {"kind": "household", "has": h},
            st.sampled_from(["member", "bundle", "broadband", "iptv"]),
        ),
        st.builds(
            lambda ids: {"kind": "org_unit", "org_ids": ids},
            st.lists(st.sampled_from(pools["org_id"]), min_size=1, max_size=3),
        ),
    )


def trees(
    pools: dict[str, list[Any]], library: Library | None = None, max_leaves: int = 8
) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves(pools, library),
        lambda children: st.one_of(
            st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=4)),
            st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=4)),
            st.builds(lambda c: {"not": c}, children),
        ),
        max_leaves=max_leaves,
    )


def libraries(pools: dict[str, list[Any]]) -> st.SearchStrategy[Library]:
    """Up to three saved segments of one or two versions, each referring only to earlier ones."""

    @st.composite
    def build(draw: st.DrawFn) -> Library:
        library = Library()
        for segment_id in range(1, draw(st.integers(0, 3)) + 1):
            earlier = Library(dict(library.versions))
            library.versions[segment_id] = [
                {"version": 1, "root": draw(trees(pools, earlier, max_leaves=4))}
                for _ in range(draw(st.integers(1, 2)))
            ]
        return library

    return build()


def _duckdb_members(
    con: BaseBackend,
    rule: dict[str, Any],
    as_of: date | None = None,
    library: Library | None = None,
) -> set[int]:
    resolve = (library or Library()).resolver()
    table = compile_rule(con, parse_rule(rule), as_of=as_of, resolve=resolve).to_pyarrow()
    ids = table.column("subscriber_id").to_pylist()
    assert len(ids) == len(set(ids)), "a member appears twice"
    return set(ids)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_rules_match_pandas(world: World, data: st.DataObject) -> None:
    library = data.draw(libraries(world.pools), label="library")
    rule = {"version": 1, "root": data.draw(trees(world.pools, library), label="root")}
    expected = world.pandas.members(rule, library=library)
    assert _duckdb_members(world.con, rule, library=library) == expected


def test_a_six_condition_rule_selects_some_but_not_all(world: World) -> None:
    rule = {
        "version": 1,
        "root": {
            "all": [
                {"kind": "field", "field": "status", "op": "=", "value": "active"},
                {
                    "kind": "usage",
                    "measure": "arpu_fen",
                    "agg": "avg",
                    "months": 3,
                    "op": ">=",
                    "value": 2000,
                },
                {
                    "kind": "usage",
                    "measure": "data_mb",
                    "agg": "max",
                    "months": 2,
                    "op": ">",
                    "value": 500,
                },
                {"kind": "trend", "measure": "arpu_fen", "months": 3, "op": "<", "value": 0},
                {"not": {"kind": "enterprise"}},
                {"kind": "tenure_months", "op": ">=", "value": 6},
            ]
        },
    }
    members = _duckdb_members(world.con, rule)
    assert members == world.pandas.members(rule)
    assert 0 < len(members) < len(world.pandas.frames["subscribers"])
    assert count(world.con, parse_rule(rule)) == len(members)


def test_as_of_moves_the_window(world: World) -> None:
    rule = {
        "version": 1,
        "root": {
            "kind": "usage",
            "measure": "arpu_fen",
            "agg": "sum",
            "months": 1,
            "op": ">",
            "value": 3000,
        },
    }
    latest = _duckdb_members(world.con, rule)
    earlier = _duckdb_members(world.con, rule, as_of=date(2026, 7, 15))
    assert earlier == world.pandas.members(rule, as_of=date(2026, 7, 1))
    assert latest == world.pandas.members(rule)
    assert earlier != latest


def test_not_is_the_exact_complement_even_on_missing_values(world: World) -> None:
    condition = {"kind": "field", "field": "contract_end", "op": ">", "value": "2026-01-01"}
    inside = _duckdb_members(world.con, {"version": 1, "root": condition})
    outside = _duckdb_members(world.con, {"version": 1, "root": {"not": condition}})
    assert inside.isdisjoint(outside)
    assert len(inside | outside) == len(world.pandas.frames["subscribers"])
    assert world.pandas.frames["subscribers"]["contract_end"].isna().any()
