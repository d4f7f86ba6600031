"""Hostile values are data: stored and matched literally. Plus scope and missing tables."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from ibis.backends import BaseBackend

from telmark.errors import WarehouseEmpty
from telmark.segments.compile import compile_rule, count
from telmark.segments.rules import InvalidRule, parse_rule
from telmark.warehouse.scope import ScopedWarehouse
from tests._factories.segments import load_warehouse, province_directory

HOSTILE = (
    "O'Brien",
    "'; DROP TABLE subscribers; --",
    'back\\slash "double" \\\' mixed',
    "华为 Mate 60 🚀📱",
    "100%_like_*?",
    "Robert'); DELETE FROM products WHERE ('1'='1",
)


@dataclass
class Planted:
    con: BaseBackend
    brand_holder: dict[str, int]  # hostile brand → the one subscriber holding it
    product_holder: int  # holds the hostile product
    product_id: str
    case_holder: dict[str, int]  # hostile case code → the one subscriber contacted under it


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    root = tmp_path_factory.mktemp("segment-literals")
    con = load_warehouse(province_directory(root, subscribers=600, seed=4), root / "w.duckdb")
    subs = con.table("subscribers").order_by("subscriber_id").to_pyarrow()
    ids = subs.column("subscriber_id").to_pylist()
    brands = subs.column("handset_brand").to_pylist()
    holders = dict(zip(HOSTILE, ids[: len(HOSTILE)], strict=False))
    for brand, sid in holders.items():
        brands[ids.index(sid)] = brand
    index = subs.schema.get_field_index("handset_brand")
    con.create_table(
        "subscribers", subs.set_column(index, "handset_brand", pa.array(brands)), overwrite=True
    )

    product_id = "P'; DROP TABLE subscriptions; -- 🚀"
    products = con.table("products").to_pyarrow()
    template = products.slice(0, 1).to_pylist()[0]
    template.update(product_id=product_id, name="恶意'产品\"", kind="addon", family="data_pack")
    con.create_table(
        "products",
        pa.concat_tables([products, pa.Table.from_pylist([template], schema=products.schema)]),
        overwrite=True,
    )
    subscriptions = con.table("subscriptions").to_pyarrow()
    row = subscriptions.slice(0, 1).to_pylist()[0]
    holder = ids[-1]
    row.update(
        subscription_id=int(pc.max(subscriptions.column("subscription_id")).as_py()) + 1,
        subscriber_id=holder,
        product_id=product_id,
        start_date=date(2020, 1, 1),
        end_date=None,
    )
    con.create_table(
        "subscriptions",
        pa.concat_tables([subscriptions, pa.Table.from_pylist([row], schema=subscriptions.schema)]),
        overwrite=True,
    )
    contacts = con.table("contact_history").to_pyarrow()
    case_holders = dict(zip(HOSTILE, ids[-1 - len(HOSTILE) : -1], strict=True))
    planted_contacts = [
        {
            "contact_id": f"LEGACY-'{n}\"; --",
            "subscriber_id": sid,
            "contacted_at": datetime(2026, 9, 20, 2, 0, tzinfo=UTC),
            "channel": "sms",
            "case_code": code,
            "outcome": "delivered",
        }
        for n, (code, sid) in enumerate(case_holders.items())
    ]
    con.create_table(
        "contact_history",
        pa.concat_tables(
            [contacts, pa.Table.from_pylist(planted_contacts, schema=contacts.schema)]
        ),
        overwrite=True,
    )
    yield Planted(
        con=con,
        brand_holder=holders,
        product_holder=holder,
        product_id=product_id,
        case_holder=case_holders,
    )
    con.disconnect()


def members(con: BaseBackend, root: Mapping[str, object]) -> set[int]:
    # Through JSON text, as a rule file or API body would arrive.
    rule = parse_rule(json.loads(json.dumps({"version": 1, "root": root})))
    return set(compile_rule(con, rule).to_pyarrow().column("subscriber_id").to_pylist())


@pytest.mark.parametrize("brand", HOSTILE)
def test_hostile_brand_matches_exactly_its_holder(planted: Planted, brand: str) -> None:
    node = {"kind": "field", "field": "handset_brand", "op": "=", "value": brand}
    assert members(planted.con, node) == {planted.brand_holder[brand]}
    everyone = planted.con.table("subscribers").count().to_pyarrow().as_py()
    others = members(planted.con, {**node, "op": "!="})
    assert len(others) == everyone - 1


def test_hostile_values_in_lists_and_near_misses(planted: Planted) -> None:
    node = {"kind": "field", "field": "handset_brand", "op": "in", "value": list(HOSTILE)}
    assert members(planted.con, node) == set(planted.brand_holder.values())
    # SQL-escaped or wildcard look-alikes are different strings and match nothing.
    for near in ("O''Brien", "O\\'Brien", "100%", "%", "华为 Mate 60", "' OR '1'='1"):
        near_node = {"kind": "field", "field": "handset_brand", "op": "=", "value": near}
        assert members(planted.con, near_node) == set(), near
    tables = set(planted.con.list_tables())
    assert {"subscribers", "products", "subscriptions"} <= tables
    assert planted.con.table("products").count().to_pyarrow().as_py() > 1


def test_hostile_product_id_matches_its_holder(planted: Planted) -> None:
    node = {"kind": "has_product", "product_id": planted.product_id}
    assert members(planted.con, node) == {planted.product_holder}
    family = {"kind": "has_product", "product_id": planted.product_id, "family": "5g_plan"}
    assert members(planted.con, family) == set()


@pytest.mark.parametrize("code", HOSTILE)
def test_hostile_case_code_matches_exactly_its_contact(planted: Planted, code: str) -> None:
    node = {"kind": "contacted", "days": 30, "case_codes": [code]}
    assert members(planted.con, node) == {planted.case_holder[code]}
    assert members(planted.con, {**node, "channels": ["email"]}) == set()
    assert planted.case_holder[code] not in members(planted.con, {"not": node})


def test_hostile_case_codes_in_one_list_and_near_misses(planted: Planted) -> None:
    node = {"kind": "contacted", "days": 30, "case_codes": list(HOSTILE)}
    assert members(planted.con, node) == set(planted.case_holder.values())
    for near in ("O''Brien", "%", "' OR '1'='1", "华为", "YX%"):
        near_node = {"kind": "contacted", "days": 365, "case_codes": [near]}
        assert members(planted.con, near_node) == set(), near
    assert planted.con.table("contact_history").count().to_pyarrow().as_py() > len(HOSTILE)


def test_scoped_warehouse_restricts_members_to_the_scope(planted: Planted) -> None:
    rule = {
        "kind": "usage",
        "measure": "arpu_fen",
        "agg": "avg",
        "months": 2,
        "op": ">",
        "value": 0,
    }
    province = members(planted.con, rule)
    city = members(ScopedWarehouse(planted.con, "C01"), rule)
    in_city = members(planted.con, {"all": [rule, {"kind": "org_unit", "org_ids": ["C01"]}]})
    assert city == in_city
    assert 0 < len(city) < len(province)


def test_unknown_org_units_and_products_are_named_by_path(planted: Planted) -> None:
    rule = parse_rule(
        {
            "version": 1,
            "root": {
                "all": [
                    {"kind": "org_unit", "org_ids": ["C01", "C99'; --"]},
                    {"not": {"kind": "has_product", "product_id": "NO-SUCH"}},
                    {"kind": "has_product", "product_id": planted.product_id},
                ]
            },
        }
    )
    with pytest.raises(InvalidRule) as caught:
        count(planted.con, rule)
    assert caught.value.details == [
        {"path": "root.all[0].org_ids", "message": 'unknown org unit "C99\'; --"'},
        {"path": "root.all[1].not.product_id", "message": "unknown product 'NO-SUCH'"},
    ]


def test_value_and_churn_conditions_need_their_tables(planted: Planted) -> None:
    value = parse_rule(
        {"version": 1, "root": {"kind": "value", "field": "value_tier", "op": "=", "value": "vip"}}
    )
    with pytest.raises(WarehouseEmpty, match="customer_value.*telmark analysis value refresh"):
        count(planted.con, value)
    churn = parse_rule(
        {
            "version": 1,
            "root": {"not": {"kind": "churn", "field": "risk_band", "op": "=", "value": "high"}},
        }
    )
    with pytest.raises(WarehouseEmpty, match="churn_scores.*telmark analysis churn score"):
        count(planted.con, churn)
