"""The console builder's pure half: form fields <-> rule documents, tree edits, errors on nodes."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from telmark.errors import InvalidInput
from telmark.segments import builder
from telmark.segments.fields import Op
from telmark.segments.rules import CONDITIONS, InvalidRule, parse_rule
from telmark.warehouse.contract import ColType

RICH: dict[str, Any] = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "payment_type", "op": "in",
             "value": ["prepaid", "postpaid"]},
            {"kind": "field", "field": "plan_id", "op": "not_in", "value": ["P5G128", "P4G58"]},
            {"kind": "field", "field": "join_date", "op": "between",
             "value": ["2020-01-01", "2023-06-30"]},
            {"kind": "field", "field": "handset_5g", "op": "=", "value": True},
            {"kind": "field", "field": "contract_end", "op": "is_null"},
            {"kind": "usage", "measure": "arpu_fen", "agg": "avg", "months": 3,
             "op": "between", "value": [1000, 5000.5]},
            {"kind": "trend", "measure": "data_mb", "months": 6, "op": "<", "value": -12.5},
            {"kind": "recharges", "stat": "count", "months": 2, "op": ">=", "value": 1},
            {
                "not": {
                    "any": [
                        {"kind": "household", "has": "bundle"},
                        {"kind": "enterprise", "tiers": ["A", "B"]},
                        {"all": [
                            {"kind": "has_product", "family": "5g_plan"},
                            {"kind": "contract_ends_within_days", "days": 30},
                        ]},
                    ]
                }
            },
            {"kind": "tenure_months", "op": ">", "value": 24},
            {"kind": "value", "field": "value_tier", "op": "in", "value": ["gold", "vip"]},
            {"kind": "churn", "field": "churn_probability", "op": ">", "value": 0.35},
            {"kind": "org_unit", "org_ids": ["C01", "C02D1"]},
            {"kind": "field", "field": "handset_brand", "op": "=", "value": "O'Brien; DROP 表"},
        ]
    },
}  # fmt: skip


def _canonical(doc: dict[str, Any]) -> dict[str, Any]:
    return parse_rule(doc).model_dump(mode="json", by_alias=True, exclude_none=True)


def test_round_trip_of_a_document_using_every_shape() -> None:
    doc = _canonical(RICH)
    form = builder.draft_to_form(doc)
    assert form["root:node"] == ["all"]
    assert form["root.all[0]:value"] == ["prepaid", "postpaid"]  # one field per allowed value
    assert form["root.all[1]:value"] == ["P5G128, P4G58"]  # free text: comma-separated
    assert form["root.all[2]:value_low"] == ["2020-01-01"]
    assert form["root.all[8]:node"] == ["not"]
    assert form["root.all[8].not.any[2].all[1]:days"] == ["30"]  # three levels down
    assert builder.form_to_draft(form) == doc


def _text_item() -> st.SearchStrategy[str]:
    # Items of a free-text list: what splitting on separators and trimming leaves intact.
    return st.text(st.characters(blacklist_characters=",，、\n\r", blacklist_categories=["Cs"]),
                   min_size=1, max_size=8).map(str.strip).filter(bool)  # fmt: skip


def _typed(target: Any) -> st.SearchStrategy[Any]:
    if target.allowed is not None:
        return st.sampled_from(target.allowed)
    return {
        ColType.INT: st.integers(-(10**6), 10**6),
        ColType.FLOAT: st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        ColType.BOOL: st.booleans(),
        ColType.DATE: st.dates(date(2000, 1, 1), date(2030, 12, 31)).map(date.isoformat),
    }.get(target.type, _text_item())


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    """Any condition kind, drawn from its attribute specs (so new kinds are covered too)."""
    kind = draw(st.sampled_from(builder.condition_kinds()))
    spec = builder.kind_spec(kind)
    node: dict[str, Any] = {"kind": kind}
    for attr in spec.attrs:
        if not attr.required and draw(st.booleans()):
            continue
        if attr.shape == "choice":
            node[attr.name] = draw(st.sampled_from(attr.choices))
        elif attr.shape == "multi":
            node[attr.name] = draw(st.lists(st.sampled_from(attr.choices), min_size=1, unique=True))
        elif attr.shape == "list":
            item = st.integers(1, 999) if attr.item_shape == "int" else _text_item()
            node[attr.name] = draw(st.lists(item, min_size=1, max_size=3))
        elif attr.shape == "int":
            low = int(attr.minimum) if attr.minimum is not None else 1
            high = int(attr.maximum) if attr.maximum is not None else 10_000
            node[attr.name] = draw(st.integers(low, high))
        elif attr.shape == "bool":
            node[attr.name] = draw(st.booleans())
        else:
            node[attr.name] = draw(_text_item())
    if spec.comparison:
        target = spec.target(node)
        op = draw(st.sampled_from(builder.ordered_ops(target)))
        node["op"] = op
        if op in builder.LIST_OPS:
            node["value"] = draw(st.lists(_typed(target), min_size=1, max_size=3))
        elif op == Op.BETWEEN.value:
            node["value"] = sorted(draw(st.lists(_typed(target), min_size=2, max_size=2)))
        elif op not in (Op.IS_NULL.value, Op.NOT_NULL.value):
            node["value"] = draw(_typed(target))
    return node


trees = st.recursive(
    conditions(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, min_size=1, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_every_valid_document_survives_the_form(root: dict[str, Any]) -> None:
    try:
        doc = _canonical({"version": 1, "root": root})
    except InvalidRule:
        assume(False)  # e.g. has_product without any filter: not a document to round-trip
        raise
    assert builder.form_to_draft(builder.draft_to_form(doc)) == doc


def test_a_new_condition_of_every_kind_fails_only_at_its_own_node() -> None:
    for kind in CONDITIONS:
        node = builder.new_condition(kind)
        assert node["kind"] == kind
        doc = {"version": 1, "root": {"all": [node]}}
        try:
            parse_rule(doc)
        except InvalidRule as error:
            paths = [str(d["path"]) for d in error.details]
            assert all(p.startswith("root.all[0]") for p in paths), (kind, paths)
        assert builder.form_to_draft(builder.draft_to_form(doc)) == doc


def test_changing_the_field_drops_a_value_that_no_longer_fits() -> None:
    doc = {"version": 1, "root": {"kind": "field", "field": "gender", "op": "=", "value": "M"}}
    form = builder.draft_to_form(doc)
    form["root:field"] = ["birth_year"]  # the user picks another field; sig is still gender's
    assert builder.form_to_draft(form)["root"] == {
        "kind": "field", "field": "birth_year", "op": "=",
    }  # fmt: skip
    form = builder.draft_to_form(
        {"version": 1, "root": {"kind": "field", "field": "birth_year", "op": ">", "value": 1990}}
    )
    form["root:field"] = ["payment_type"]  # ">" does not apply to a code: back to "="
    assert builder.form_to_draft(form)["root"]["op"] == "="
    # The same type (one measure for another) keeps the value.
    form = builder.draft_to_form(
        {"version": 1, "root": {"kind": "usage", "measure": "arpu_fen", "agg": "avg",
                                "months": 3, "op": ">=", "value": 5000}}
    )  # fmt: skip
    form["root:measure"] = ["data_mb"]
    assert builder.form_to_draft(form)["root"]["value"] == 5000


def test_switching_operator_carries_the_value_over() -> None:
    base = {"kind": "field", "field": "birth_year", "op": "=", "value": 1990}
    form = builder.draft_to_form({"version": 1, "root": base})
    form["root:op"] = ["between"]
    assert builder.form_to_draft(form)["root"]["value"] == [1990, None]
    form["root:op"] = ["in"]
    assert builder.form_to_draft(form)["root"]["value"] == [1990]
    form["root:op"] = ["is_null"]
    assert "value" not in builder.form_to_draft(form)["root"]


def test_unparseable_text_is_kept_for_validation_to_name() -> None:
    form = builder.draft_to_form({"version": 1, "root": {"kind": "tenure_months", "op": ">="}})
    form["root:value"] = ["six"]
    draft = builder.form_to_draft(form)
    assert draft["root"]["value"] == "six"
    with pytest.raises(InvalidRule) as raised:
        parse_rule(draft)
    nodes, rest = builder.errors_by_node(raised.value.details, draft)
    assert rest == []
    assert [attr for attr, _ in nodes["root"]] == ["value"]
    assert "six" in nodes["root"][0][1]


def test_edits_add_nest_negate_and_remove() -> None:
    draft: dict[str, Any] = {"version": 1, "root": {"all": []}}
    form = {"root:newkind": ["tenure_months"]}
    draft = builder.apply_action(draft, "add:root", form)
    draft = builder.apply_action(draft, "group:root:any", {})
    draft = builder.apply_action(draft, "add:root.all[1]", {"root.all[1]:newkind": ["usage"]})
    draft = builder.apply_action(draft, "group:root.all[1]:all", {})
    draft = builder.apply_action(
        draft, "add:root.all[1].any[1]", {"root.all[1].any[1]:newkind": ["household"]}
    )
    assert draft["root"]["all"][1]["any"][1]["all"][0] == {"kind": "household", "has": "member"}
    draft = builder.apply_action(draft, "not:root.all[0]", {})
    assert draft["root"]["all"][0] == {"not": {"kind": "tenure_months", "op": ">="}}
    # Removing the child of a NOT removes the NOT with it.
    removed = builder.apply_action(draft, "remove:root.all[0].not", {})
    assert len(removed["root"]["all"]) == 1
    draft = builder.apply_action(draft, "unnot:root.all[0]", {})
    assert draft["root"]["all"][0]["kind"] == "tenure_months"
    draft = builder.apply_action(draft, "remove:root.all[1].any[0]", {})
    assert list(draft["root"]["all"][1]["any"][0]) == ["all"]
    wrapped = builder.apply_action({"version": 1, "root": {"kind": "household", "has": "iptv"}},
                                   "wrap:root:any", {})  # fmt: skip
    assert wrapped["root"] == {"any": [{"kind": "household", "has": "iptv"}]}
    cleared = builder.apply_action(draft, "remove:root", {})
    assert cleared["root"] == {"all": []}
    # The round trip holds for what the edits built.
    assert builder.form_to_draft(builder.draft_to_form(draft)) == draft


@pytest.mark.parametrize(
    "action",
    ["add:root.all[7]", "add:root.all[0]", "explode:root", "add:nowhere", "unnot:root",
     "add:root.all[0]garbage", "group:root:maybe"],
)  # fmt: skip
def test_bad_actions_are_refused_without_changing_the_draft(action: str) -> None:
    draft = {"version": 1, "root": {"all": [{"kind": "household", "has": "iptv"}]}}
    form = {"root:newkind": ["tenure_months"], "root.all[0]:newkind": ["tenure_months"]}
    with pytest.raises(InvalidInput):
        builder.apply_action(draft, action, form)
    assert draft == {"version": 1, "root": {"all": [{"kind": "household", "has": "iptv"}]}}


def test_an_unknown_kind_to_add_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown condition kind"):
        builder.apply_action({"version": 1, "root": {"all": []}}, "add:root",
                             {"root:newkind": ["nonsense"]})  # fmt: skip


def test_nodes_the_builder_cannot_show_survive_as_raw_json() -> None:
    draft = {"version": 1, "root": {"all": [{"kind": "feild", "x": 1}, {"kind": "household"}]}}
    form = builder.draft_to_form(draft)
    assert form["root.all[0]:node"] == ["raw"]
    assert builder.form_to_draft(form) == draft
    with pytest.raises(InvalidRule) as raised:
        parse_rule(draft)
    nodes, rest = builder.errors_by_node(raised.value.details, draft)
    assert set(nodes) == {"root.all[0]", "root.all[1]"}
    assert rest == []


def test_errors_belong_to_the_deepest_node_and_attribute() -> None:
    paths = ["root", "root.all[1]", "root.all[10]", "root.all[1].not"]
    assert builder.owner_of("root.all[10].value", paths) == ("root.all[10]", "value")
    assert builder.owner_of("root.all[1].not.org_ids[0]", paths) == ("root.all[1].not", "org_ids")
    assert builder.owner_of("root.all", paths) == ("root", "all")
    assert builder.owner_of("version", paths) == (None, "")


def test_json_text_is_read_as_a_draft_or_refused_by_name() -> None:
    assert builder.draft_from_text('{"version": 1, "root": {"all": []}}')["root"] == {"all": []}
    assert builder.draft_from_text("version: 1\nroot: {any: []}\n")["root"] == {"any": []}
    for bad in ("{not json", "[1, 2]", '{"version": 1}'):
        with pytest.raises(InvalidInput, match="rule_json"):
            builder.draft_from_text(bad)


def test_every_condition_kind_has_widgets_from_its_model() -> None:
    for kind in CONDITIONS:
        spec = builder.kind_spec(kind)
        model_fields = set(CONDITIONS[kind].model_fields) - {"kind"}
        if spec.comparison:
            model_fields -= {"op", "value"}
        assert {a.name for a in spec.attrs} == model_fields, kind
        assert all(a.shape in {"choice", "multi", "list", "int", "number", "bool", "text"}
                   for a in spec.attrs)  # fmt: skip
