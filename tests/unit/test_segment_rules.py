"""Rule documents: what validates, and errors that point at the offending node."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from telmark.segments.fields import SUBSCRIBER_FIELDS, USAGE_MEASURES, VALUE_FIELDS, Op, describe
from telmark.segments.rules import (
    AllGroup,
    FieldCondition,
    InvalidRule,
    NotGroup,
    RuleDocument,
    UsageCondition,
    parse_rule,
    rule_json_schema,
)
from telmark.warehouse.contract import SUBSCRIBERS, ColType


def doc(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


def field(name: str, op: str, value: Any = None) -> dict[str, Any]:
    node = {"kind": "field", "field": name, "op": op}
    if value is not None:
        node["value"] = value
    return node


def problems(data: object) -> dict[str, str]:
    with pytest.raises(InvalidRule) as caught:
        parse_rule(data)
    return {str(d["path"]): str(d["message"]) for d in caught.value.details}


def test_a_full_document_validates_and_round_trips() -> None:
    data = doc(
        {
            "all": [
                field("payment_type", "=", "prepaid"),
                field("join_date", "between", ["2020-01-01", "2024-12-31"]),
                {
                    "kind": "usage",
                    "measure": "arpu_fen",
                    "agg": "avg",
                    "months": 3,
                    "op": ">=",
                    "value": 5000,
                },
                {"kind": "trend", "measure": "data_mb", "months": 3, "op": "<", "value": -50.5},
                {"kind": "recharges", "stat": "count", "months": 2, "op": ">=", "value": 1},
                {"kind": "has_product", "family": "5g_plan"},
                {"kind": "contract_ends_within_days", "days": 60},
                {"kind": "tenure_months", "op": ">", "value": 24},
                {"kind": "value", "field": "value_tier", "op": "in", "value": ["gold", "vip"]},
                {"kind": "churn", "field": "churn_probability", "op": ">=", "value": 0.3},
                {"kind": "household", "has": "broadband"},
                {"kind": "enterprise", "tiers": ["A"], "industries": ["finance"]},
                {"kind": "org_unit", "org_ids": ["C01"]},
                {
                    "any": [
                        {"not": field("contract_end", "is_null")},
                        field("handset_5g", "=", True),
                    ]
                },
            ]
        }
    )
    rule = parse_rule(data)
    assert isinstance(rule.root, AllGroup)
    between = rule.root.all[1]
    assert isinstance(between, FieldCondition)
    assert between.value == [date(2020, 1, 1), date(2024, 12, 31)]  # ISO dates are parsed
    dumped = rule.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["root"]["all"][13]["any"][0] == {
        "not": {"kind": "field", "field": "contract_end", "op": "is_null"}
    }
    assert parse_rule(dumped) == rule


def test_the_python_builder_makes_the_same_document() -> None:
    built = RuleDocument(
        version=1,
        root=AllGroup(
            all=[
                FieldCondition(field="gender", op=Op.EQ, value="F"),
                NotGroup(
                    not_=UsageCondition(
                        measure="voice_min", agg="sum", months=2, op=Op.LT, value=10
                    )
                ),
            ]
        ),
    )
    parsed = parse_rule(
        doc(
            {
                "all": [
                    field("gender", "=", "F"),
                    {
                        "not": {
                            "kind": "usage",
                            "measure": "voice_min",
                            "agg": "sum",
                            "months": 2,
                            "op": "<",
                            "value": 10,
                        }
                    },
                ]
            }
        )
    )
    assert built == parsed


def test_errors_name_the_nested_node_path() -> None:
    data = doc(
        {
            "all": [
                field("gender", "=", "F"),
                field("status", "=", "active"),
                {"any": [field("join_date", "<", "2020-13-01")]},
            ]
        }
    )
    found = problems(data)
    assert found == {
        "root.all[2].any[0].value": "expected a date (YYYY-MM-DD) for join_date, got '2020-13-01'"
    }
    with pytest.raises(
        InvalidRule, match=r"^invalid segment rule: root\.all\[2\]\.any\[0\]\.value: "
    ):
        parse_rule(data)


def test_every_bad_node_is_reported_not_just_the_first() -> None:
    data = doc(
        {
            "all": [
                {"kind": "bogus"},
                {"not": field("gender", "in", ["X"])},
                field("status", "<", "active"),
                field("birth_year", ">", "1990"),
                field("handset_5g", "=", 1),
                {"kind": "has_product"},
                {
                    "kind": "usage",
                    "measure": "arpu",
                    "agg": "median",
                    "months": 0,
                    "op": ">",
                    "value": 1,
                },
            ]
        }
    )
    found = problems(data)
    assert "not a rule node" in found["root.all[0]"]
    assert found["root.all[1].not.value"] == "'X' is not a value of gender; expected one of: M, F"
    assert found["root.all[2].op"].startswith("operator '<' does not apply to status")
    assert found["root.all[3].value"] == "expected a whole number for birth_year, got '1990'"
    assert found["root.all[4].value"] == "expected true or false for handset_5g, got 1"
    assert found["root.all[5]"] == "has_product needs product_id, family or product_kind"
    assert "unknown measure 'arpu'" in found["root.all[6].measure"]
    assert "unknown aggregate 'median'" in found["root.all[6].agg"]
    assert "greater than or equal to 1" in found["root.all[6].months"]


@pytest.mark.parametrize(
    ("node", "path", "needle"),
    [
        (field("birth_year", "between", [2000, 1990]), "root.value", "low 2000 is above high 1990"),
        (field("birth_year", "between", [1990]), "root.value", "between needs a list [low, high]"),
        (field("plan_id", "in", []), "root.value", "needs a non-empty list"),
        (field("plan_id", "=", ["a"]), "root.value", "needs a single value"),
        (field("contract_end", "is_null", "2026-01-01"), "root.value", "is_null takes no value"),
        (field("status", "is_null"), "root.op", "does not apply to status"),
        (field("msisdn", "=", "13800000000"), "root.field", "unknown field 'msisdn'"),
        (
            {"kind": "trend", "measure": "arpu_fen", "months": 1, "op": "<", "value": 0},
            "root.months",
            "greater than or equal to 2",
        ),
        (
            {"kind": "trend", "measure": "arpu_fen", "months": 3, "op": "in", "value": [0]},
            "root.op",
            "does not apply",
        ),
        ({"all": []}, "root.all", "at least 1 item"),
        ({"all": [field("gender", "=", "F")], "any": []}, "root", "not a rule node"),
        ({"kind": "household", "has": "pets"}, "root.has", "unknown household feature 'pets'"),
        ({"kind": "enterprise", "tiers": ["Z"]}, "root.tiers", "unknown account tier 'Z'"),
        ({"kind": "org_unit", "org_ids": []}, "root.org_ids", "at least 1 item"),
        (
            {"kind": "field", "field": "gender", "op": "=", "value": "F", "extra": 1},
            "root.extra",
            "Extra inputs",
        ),
        (
            {"kind": "value", "field": "value_tier", "op": "=", "value": "platinum"},
            "root.value",
            "'platinum' is not a value of value_tier",
        ),
        (
            {"kind": "churn", "field": "risk_band", "op": "<", "value": "high"},
            "root.op",
            "does not apply to risk_band",
        ),
    ],
)
def test_bad_nodes(node: dict[str, Any], path: str, needle: str) -> None:
    found = problems(doc(node))
    assert path in found, found
    assert needle in found[path]


def test_version_and_shape_of_the_document() -> None:
    assert "version" in problems({"version": 2, "root": field("gender", "=", "F")})
    assert "root" in problems({"version": 1})
    assert "Field required" in problems({"root": field("gender", "=", "F")})["version"]
    assert "document" in problems(["not", "a", "mapping"])


def test_catalogue_follows_the_contract_and_has_labels() -> None:
    personal = {c.name for c in SUBSCRIBERS.columns if c.personal}
    assert personal.isdisjoint(SUBSCRIBER_FIELDS)
    for name, spec in SUBSCRIBER_FIELDS.items():
        column = SUBSCRIBERS.column(name)
        assert spec.type is column.type
        assert spec.allowed == column.allowed
        assert spec.label_zh
        assert spec.label_en
        assert (Op.IS_NULL in spec.ops) is (not column.required)
    assert SUBSCRIBER_FIELDS["join_date"].type is ColType.DATE
    assert VALUE_FIELDS["value_tier"].allowed == ("non_member", "star", "gold", "vip")


def test_json_schema_documents_every_node_kind() -> None:
    schema = rule_json_schema()
    assert schema["title"] == "telmark segment rule"
    definitions = schema["$defs"]
    kinds = {
        d["properties"]["kind"]["const"]
        for d in definitions.values()
        if "kind" in d.get("properties", {})
    }
    assert kinds == {
        "field",
        "usage",
        "trend",
        "recharges",
        "has_product",
        "contract_ends_within_days",
        "tenure_months",
        "value",
        "churn",
        "household",
        "enterprise",
        "org_unit",
        "contacted",
        "segment",
        "uplift",
    }
    assert "not" in definitions["NotGroup"]["properties"]
    assert definitions["UsageCondition"]["required"][0] == "kind"
    assert set(schema["required"]) == {"version", "root"}
    assert "payment_type" in definitions["FieldCondition"]["properties"]["field"]["enum"]


def test_catalogue_description_is_json_with_both_labels() -> None:
    described = describe()
    text = json.dumps(described, ensure_ascii=False)
    assert "入网日期" in text
    assert "Join date" in text
    fields = {f["name"]: f for f in described["subscriber_fields"]}  # type: ignore[attr-defined]
    assert fields["contract_end"]["ops"] == sorted(
        o.value for o in SUBSCRIBER_FIELDS["contract_end"].ops
    )
    assert "is_null" in fields["contract_end"]["ops"]
    assert fields["payment_type"]["allowed"] == ["prepaid", "postpaid"]
    measures = [m["name"] for m in described["usage_measures"]]  # type: ignore[attr-defined]
    assert measures == list(USAGE_MEASURES)


def test_a_comparison_without_its_value_is_refused() -> None:
    with pytest.raises(InvalidRule, match=r"root\.value: > needs a single value"):
        parse_rule({"version": 1, "root": {"kind": "tenure_months", "op": ">"}})
