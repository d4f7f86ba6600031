"""Words of the segment console: labels of kinds, fields, operators and codes, and views.

The builder and detail pages speak the operator's language (zh-CN first): every
rule node is shown through these labels, validation messages are translated by
pattern, and ``describe_rule`` turns a rule into sentences. Kept apart from the
routes in ``pages`` so the words can be read (and translated) in one place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from telmark.segments import builder
from telmark.segments import fields as catalogue
from telmark.segments.fields import Field
from telmark.segments.rules import CONDITIONS
from telmark.translation import N_
from telmark.warehouse.contract import ColType
from telmark.warehouse.labels import INDUSTRY_LABELS, PRODUCT_KIND_LABELS
from telmark.web.i18n import gettext_for

KIND_LABELS = {
    "field": N_("Subscriber attribute"),
    "usage": N_("Usage over recent months"),
    "trend": N_("Usage trend"),
    "recharges": N_("Recharges"),
    "has_product": N_("Holds a product"),
    "contract_ends_within_days": N_("Contract ending soon"),
    "tenure_months": N_("Tenure (months)"),
    "value": N_("Customer value"),
    "churn": N_("Churn risk"),
    "household": N_("Household"),
    "enterprise": N_("Enterprise account"),
    "org_unit": N_("Org unit"),
    "contacted": N_("Contacted in the last N days"),
    "segment": N_("Member of another segment"),
}
ATTR_LABELS = {
    "field": N_("Field"),
    "measure": N_("Measure"),
    "agg": N_("Aggregate"),
    "months": N_("Months"),
    "stat": N_("Statistic"),
    "product_id": N_("Product"),
    "family": N_("Product family"),
    "product_kind": N_("Product kind"),
    "days": N_("Days"),
    "has": N_("Feature"),
    "tiers": N_("Account tiers"),
    "industries": N_("Industries"),
    "org_ids": N_("Org units"),
    "segment_id": N_("Segment"),
    "version": N_("Version (empty: the current one)"),
    "channels": N_("Channels"),
    "case_codes": N_("Case codes"),
    "outcomes": N_("Outcomes"),
    "op": N_("Condition"),
    "value": N_("Value"),
}
OP_LABELS = {
    "=": N_("equals"),
    "!=": N_("does not equal"),
    "<": N_("less than"),
    "<=": N_("at most"),
    ">": N_("greater than"),
    ">=": N_("at least"),
    "between": N_("between"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "is_null": N_("is empty"),
    "not_null": N_("is not empty"),
}
YES_NO = {"true": N_("Yes"), "false": N_("No")}
# Labels of coded values, by the compared field or the attribute holding them.
CODE_LABELS: dict[str, dict[str, str]] = {
    "gender": {"M": N_("Male"), "F": N_("Female")},
    "payment_type": {"prepaid": N_("Prepaid"), "postpaid": N_("Postpaid")},
    "status": {
        "active": N_("Active"),
        "suspended": N_("Suspended"),
        "ported_out": N_("Ported out"),
        "terminated": N_("Terminated"),
    },
    "value_tier": {
        "non_member": N_("Non-member"),
        "star": N_("Star"),
        "gold": N_("Gold"),
        "vip": N_("VIP"),
    },
    "risk_band": {"high": N_("High risk"), "medium": N_("Medium risk"), "low": N_("Low risk")},
    "family": {
        "5g_plan": N_("5G plans"),
        "4g_plan": N_("4G plans"),
        "converged": N_("Converged"),
        "family": N_("Family plans"),
        "enterprise": N_("Enterprise"),
        "data_pack": N_("Data packs"),
        "voice_pack": N_("Voice packs"),
        "broadband": N_("Broadband"),
        "iptv": N_("IPTV"),
        "handset": N_("Handsets"),
    },
    "product_kind": PRODUCT_KIND_LABELS,
    "industries": INDUSTRY_LABELS,
    "tiers": {"A": N_("Tier A"), "B": N_("Tier B"), "C": N_("Tier C")},
}
CODE_LABELS["plan_family"] = CODE_LABELS["family"]
# Attributes that name what is tested (shown bare in words: "ARPU · average · last 3 months").
SUBJECT_ATTRS = frozenset({"field", "measure", "agg", "stat", "has"})
# Attributes whose labels come from the field catalogue (zh/en), by name.
CATALOGUE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "measure": catalogue.USAGE_MEASURES,
    "agg": catalogue.AGGREGATES,
    "stat": catalogue.RECHARGE_STATS,
    "has": catalogue.HOUSEHOLD_FEATURES,
    "channels": catalogue.CONTACT_CHANNELS,
    "outcomes": catalogue.CONTACT_OUTCOMES,
}
DIMENSION_LABELS = {
    "city": N_("City"),
    "plan_family": N_("Plan family"),
    "payment_type": N_("Payment"),
    "arpu_band": N_("ARPU band (yuan)"),
    "tenure_band": N_("Tenure (months)"),
    "value_tier": N_("Value tier"),
    "churn_risk_band": N_("Churn risk"),
    "handset_5g": N_("5G handset"),
}
BUCKET_LABELS = {
    "no_usage": N_("No usage"),
    "joined_later": N_("Joined later"),
    "none": N_("Not scored"),
    "-": N_("Unassigned"),
}
CHART_LABELS = {
    "segment": N_("Segment"),
    "base": N_("Base"),
    "index": N_("Index"),
    "members": N_("Members"),
}
# Rule errors (English, from the rule models) → translatable messages.
ERROR_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        (r"\S+ needs a single value", N_("Enter a value")),
        (r"expected .* got None", N_("Enter a value")),
        (r"\S+ needs a non-empty list of values", N_("Choose or enter at least one value")),
        (r"between needs a list \[low, high\]", N_("Enter both the low and the high value")),
        (r"between: low (?P<low>.+) is above high (?P<high>.+)",
         N_("The low value %(low)s is above the high value %(high)s")),
        (r"expected a date \(YYYY-MM-DD\) for \S+, got (?P<got>.+)",
         N_("Expected a date (YYYY-MM-DD), got %(got)s")),
        (r"expected a whole number for \S+, got (?P<got>.+)",
         N_("Expected a whole number, got %(got)s")),
        (r"expected a number for \S+, got (?P<got>.+)", N_("Expected a number, got %(got)s")),
        (r"expected true or false for \S+, got (?P<got>.+)", N_("Expected yes or no, got %(got)s")),
        (r"(?P<got>.+) is not a value of \S+; expected one of: (?P<allowed>.+)",
         N_("%(got)s is not allowed; expected one of: %(allowed)s")),
        (r"operator (?P<op>\S+) does not apply to \S+: (?P<allowed>.+)",
         N_("Operator %(op)s does not apply here; allowed: %(allowed)s")),
        (r"\S+ takes no value", N_("This operator takes no value")),
        (r"has_product needs product_id, family or product_kind",
         N_("Choose a product, a product family or a product kind")),
        (r"List should have at least 1 item.*", N_("Add at least one item")),
        (r"Input should be greater than or equal to (?P<n>\S+)", N_("Must be at least %(n)s")),
        (r"Input should be less than or equal to (?P<n>\S+)", N_("Must be at most %(n)s")),
        (r"Input should be a valid integer.*", N_("Enter a whole number")),
        (r"Field required", N_("Required")),
        (r"unknown org unit (?P<v>.+)", N_("Unknown org unit %(v)s, or outside your scope")),
        (r"unknown product (?P<v>.+)", N_("Unknown product %(v)s")),
        (r"not a rule node.*",
         N_("Not a rule node: expected a group (all/any/not) or a condition of a known kind")),
    )
)  # fmt: skip
GROUP_EMPTY = N_("Add at least one condition to this group")


def translate_error(locale: str, attr: str, message: str) -> str:
    """A rule error in the page's language (the English text when no pattern knows it)."""
    if attr in builder.GROUPS and message.startswith("List should have at least 1 item"):
        return gettext_for(locale, GROUP_EMPTY)
    for pattern, msgid in ERROR_PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return gettext_for(locale, msgid) % match.groupdict()
    return message


@dataclass
class Option:
    value: str
    label: str
    selected: bool = False


@dataclass
class Widget:
    """One control of a node: ``control`` is select|multiselect|checks|range|number|date|text."""

    name: str
    label: str
    control: str
    value: str = ""
    options: list[Option] = field(default_factory=list)
    low: str = ""
    high: str = ""
    input_type: str = "text"
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    invalid: bool = False
    placeholder: str = ""


@dataclass
class NodeView:
    """A node of the builder tree as rendered: its controls, children and errors."""

    path: str
    tag: str  # all | any | not | condition | raw
    label: str
    widgets: list[Widget] = field(default_factory=list)
    children: list[NodeView] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hidden: list[tuple[str, str]] = field(default_factory=list)
    raw: str = ""


class SegmentLabels:
    """Labels of kinds, attributes, operators and values in one locale, and the views."""

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def t(self, msgid: str) -> str:
        return gettext_for(self.locale, msgid)

    def _pick(self, pair: tuple[str, str]) -> str:
        return pair[1] if self.locale == "en" else pair[0]

    def kind(self, kind: str) -> str:
        if kind in catalogue.CONDITION_KINDS:  # labelled by the catalogue, zh and en
            return self._pick(catalogue.CONDITION_KINDS[kind])
        return self.t(KIND_LABELS[kind]) if kind in KIND_LABELS else kind

    def attr(self, name: str) -> str:
        return self.t(ATTR_LABELS[name]) if name in ATTR_LABELS else name.replace("_", " ")

    def op(self, op: object) -> str:
        return self.t(OP_LABELS[op]) if isinstance(op, str) and op in OP_LABELS else str(op)

    def choice(self, kind: str, attr: str, value: object) -> str:
        text = builder.as_text(value)
        if attr == "field":
            fields = getattr(CONDITIONS.get(kind), "catalogue_fields", {})
            found = fields.get(text)
            return (found.label_en if self.locale == "en" else found.label_zh) if found else text
        if attr in CATALOGUE_LABELS and text in CATALOGUE_LABELS[attr]:
            return self._pick(CATALOGUE_LABELS[attr][text])
        if text in CODE_LABELS.get(attr, {}):
            return self.t(CODE_LABELS[attr][text])
        return text

    def value(self, target: Field | None, value: object) -> str:
        text = builder.as_text(value)
        if target is None:
            return text
        if target.type is ColType.BOOL and text in YES_NO:
            return self.t(YES_NO[text])
        codes = CODE_LABELS.get(target.name, {})
        return self.t(codes[text]) if text in codes else text

    def subscriber_value(self, column: str, value: object) -> str:
        """A sample-table cell: coded values labelled, dates and the rest as text."""
        codes = CODE_LABELS.get(column, {})
        text = builder.as_text(value)
        return self.t(codes[text]) if text in codes else (text or "—")

    # -- the rule in words ------------------------------------------------------------------

    def _values_text(self, kind: str, attr: str, value: object) -> str:
        items = value if isinstance(value, list) else [value]
        return "、".join(self.choice(kind, attr, v) for v in items)

    def condition_text(self, node: dict[str, Any]) -> str:
        kind = str(node["kind"])
        spec = builder.kind_spec(kind)
        parts: list[str] = []
        for attr in spec.attrs:
            value = node.get(attr.name)
            if value is None:
                continue
            if attr.name in SUBJECT_ATTRS:
                parts.append(self.choice(kind, attr.name, value))
            elif attr.name == "months":
                parts.append(self.t(N_("last %(n)s months")) % {"n": value})
            elif attr.name == "days":
                parts.append(self.t(N_("within %(n)s days")) % {"n": value})
            else:
                parts.append(f"{self.attr(attr.name)}: {self._values_text(kind, attr.name, value)}")
        text = " · ".join([self.kind(kind), *parts])
        if not spec.comparison:
            return text
        target = spec.target(node)
        op, value = node.get("op"), node.get("value")
        text += f" {self.op(op)}"
        if isinstance(value, list) and op == "between":
            text += " " + " – ".join(self.value(target, v) for v in value)
        elif isinstance(value, list):
            text += " " + "、".join(self.value(target, v) for v in value)
        elif value is not None:
            text += " " + self.value(target, value)
        return text

    # -- the builder tree -------------------------------------------------------------------

    def node_view(
        self,
        node: object,
        path: str,
        errors: dict[str, list[tuple[str, str]]],
        choices: dict[str, list[tuple[str, str]]],
    ) -> NodeView:
        tag = builder.node_tag(node)
        problems = errors.get(path, [])
        messages = [f"{self.attr(a)}: {m}" if a and a not in ("all", "any", "not") else m
                    for a, m in problems]  # fmt: skip
        if tag in builder.GROUPS:
            assert isinstance(node, dict)
            select = Widget(
                name=f"{path}:node",
                label=self.t(N_("Combine")),
                control="select",
                options=[
                    Option("all", self.t(N_("All of (AND)")), tag == "all"),
                    Option("any", self.t(N_("Any of (OR)")), tag == "any"),
                ],
            )
            children = [
                self.node_view(child, f"{path}.{tag}[{i}]", errors, choices)
                for i, child in enumerate(node[tag])
            ]
            return NodeView(path, tag, "", [select], children, messages)
        if tag == builder.NOT:
            assert isinstance(node, dict)
            inner = node[builder.NOT]
            children = [] if inner is None else [
                self.node_view(inner, f"{path}.not", errors, choices)
            ]  # fmt: skip
            hidden = [(f"{path}:node", builder.NOT)]
            return NodeView(path, tag, self.t(N_("None of (NOT)")), [], children, messages, hidden)
        if tag == builder.RAW:
            raw = json.dumps(node, ensure_ascii=False)
            hidden = [(f"{path}:node", builder.RAW), (f"{path}:raw", raw)]
            return NodeView(
                path, tag, self.t(N_("Unrecognised node")), [], [], messages, hidden, raw
            )
        assert isinstance(node, dict)
        return self._condition_view(node, path, problems, messages, choices)

    def _condition_view(
        self,
        node: dict[str, Any],
        path: str,
        problems: list[tuple[str, str]],
        messages: list[str],
        choices: dict[str, list[tuple[str, str]]],
    ) -> NodeView:
        kind = str(node["kind"])
        spec = builder.kind_spec(kind)
        fields = builder.encode_condition(node, path)
        bad = {a for a, _ in problems}
        widgets: list[Widget] = []
        for attr in spec.attrs:
            name = f"{path}:{attr.name}"
            widget = self._attr_widget(kind, attr, name, node.get(attr.name), fields, choices)
            widget.invalid = attr.name in bad
            widgets.append(widget)
        hidden = [(f"{path}:node", kind)]
        if spec.comparison:
            target = spec.target(node)
            hidden += [(f"{path}:sig", builder.signature(target))]
            op = node.get("op")
            ops = builder.ordered_ops(target)
            if isinstance(op, str) and op not in ops:
                ops.append(op)
            widgets.append(
                Widget(
                    name=f"{path}:op",
                    label=self.attr("op"),
                    control="select",
                    options=[Option(o, self.op(o), o == op) for o in ops],
                    invalid="op" in bad,
                )
            )
            value = self._value_widget(path, target, op, fields)
            if value is not None:
                value.invalid = "value" in bad
                widgets.append(value)
        return NodeView(path, "condition", self.kind(kind), widgets, [], messages, hidden)

    def _attr_widget(
        self,
        kind: str,
        attr: builder.AttrSpec,
        name: str,
        current: object,
        fields: dict[str, list[str]],
        choices: dict[str, list[tuple[str, str]]],
    ) -> Widget:
        label = self.attr(attr.name)
        known = choices.get(attr.name)
        texts = fields.get(name, [])
        if attr.shape in ("choice", "bool") or (known is not None and attr.shape != "list"):
            pairs = (
                [(c, self.choice(kind, attr.name, c)) for c in attr.choices]
                if attr.shape == "choice"
                else [(k, self.t(v)) for k, v in YES_NO.items()]
                if attr.shape == "bool"
                else list(known or [])
            )
            chosen = texts[0] if texts else ""
            options = [Option(v, lab, v == chosen) for v, lab in pairs]
            if chosen and chosen not in {v for v, _ in pairs}:
                options.append(Option(chosen, chosen, True))
            if not attr.required or not chosen:
                options.insert(0, Option("", "—" if not attr.required else self.t(N_("Choose…"))))
            return Widget(name=name, label=label, control="select", options=options)
        if attr.shape == "multi":
            options = [Option(c, self.choice(kind, attr.name, c), c in texts) for c in attr.choices]
            return Widget(name=name, label=label, control="checks", options=options)
        if attr.shape == "list" and known is not None:
            selected = [builder.as_text(v) for v in current] if isinstance(current, list) else []
            options = [Option(v, lab, v in selected) for v, lab in known]
            options += [Option(v, v, True) for v in selected if v not in {o for o, _ in known}]
            return Widget(name=name, label=label, control="multiselect", options=options)
        if attr.shape in ("int", "number"):
            return Widget(
                name=name,
                label=label,
                control="number",
                value=texts[0] if texts else "",
                minimum=attr.minimum,
                maximum=attr.maximum,
                step="1" if attr.shape == "int" else "any",
            )
        placeholder = self.t(N_("comma-separated")) if attr.shape == "list" else ""
        value = texts[0] if texts else ""
        return Widget(name=name, label=label, control="text", value=value, placeholder=placeholder)

    def _value_widget(
        self,
        path: str,
        target: Field | None,
        op: object,
        fields: dict[str, list[str]],
    ) -> Widget | None:
        name = f"{path}:value"
        label = self.attr("value")
        texts = fields.get(name, [])
        col = None if target is None else target.type
        input_type = {ColType.DATE: "date", ColType.INT: "number", ColType.FLOAT: "number"}.get(
            col, "text"
        ) if col is not None else "text"  # fmt: skip
        step = "1" if col is ColType.INT else "any"
        coded = target is not None and (target.allowed is not None or col is ColType.BOOL)
        codes = (
            [] if target is None
            else list(target.allowed) if target.allowed is not None
            else list(YES_NO)
        )  # fmt: skip
        if op in ("is_null", "not_null"):
            return None
        if op in builder.LIST_OPS:
            if coded:
                options = [Option(c, self.value(target, c), c in texts) for c in codes]
                return Widget(name=name, label=label, control="checks", options=options)
            return Widget(
                name=name,
                label=label,
                control="text",
                value=texts[0] if texts else "",
                placeholder=self.t(N_("comma-separated")),
            )
        if op == "between":
            return Widget(
                name=name,
                label=label,
                control="range",
                low=(fields.get(f"{path}:value_low") or [""])[0],
                high=(fields.get(f"{path}:value_high") or [""])[0],
                input_type=input_type,
                step=step,
            )
        chosen = texts[0] if texts else ""
        if coded:
            options = [Option(c, self.value(target, c), c == chosen) for c in codes]
            if chosen and chosen not in codes:
                options.append(Option(chosen, chosen, True))
            if not chosen:
                options.insert(0, Option("", self.t(N_("Choose…"))))
            return Widget(name=name, label=label, control="select", options=options)
        return Widget(
            name=name, label=label, control="input", value=chosen, input_type=input_type, step=step
        )

    # -- charts -----------------------------------------------------------------------------

    def bucket(self, dimension: str, key: str, cities: dict[str, str]) -> str:
        if key in BUCKET_LABELS:
            return self.t(BUCKET_LABELS[key])
        if dimension == "city":
            return cities.get(key, key)
        if dimension == "handset_5g":
            return self.t(YES_NO.get(key, key))
        if dimension == "arpu_band":
            return f"¥{key.replace('-', '–')}"
        if dimension == "tenure_band":
            return key.replace("-", "–")
        codes = CODE_LABELS.get({"churn_risk_band": "risk_band"}.get(dimension, dimension), {})
        return self.t(codes[key]) if key in codes else key

    def insight_charts(
        self,
        profile: Any,
        trend: Any,
        *,
        cities: dict[str, str],
        months: list[str],
    ) -> dict[str, Any]:
        """The trend and profile charts' data, JSON-ready (shares in percent)."""
        return {
            "echartsLocale": "EN" if self.locale == "en" else "ZH",
            "labels": {k: self.t(v) for k, v in CHART_LABELS.items()},
            "trend": {"months": months, "counts": [p.count for p in trend.points]},
            "profile": [
                {
                    "id": f"profile-{d.dimension}",
                    "title": self.t(DIMENSION_LABELS.get(d.dimension, d.dimension)),
                    "buckets": [self.bucket(d.dimension, b.key, cities) for b in d.buckets],
                    "segment": [round(b.segment_share * 100, 2) for b in d.buckets],
                    "base": [round(b.base_share * 100, 2) for b in d.buckets],
                    "index": [None if b.index is None else round(b.index) for b in d.buckets],
                }
                for d in profile.distributions
            ],
        }


def describe_rule(node: object, labels: SegmentLabels) -> dict[str, Any]:
    """The rule as a tree of sentences for the detail page."""
    tag = builder.node_tag(node)
    if tag in builder.GROUPS:
        assert isinstance(node, dict)
        heading = labels.t(N_("All of these") if tag == "all" else N_("Any of these"))
        return {
            "tag": tag,
            "text": heading,
            "children": [describe_rule(c, labels) for c in node[tag]],
        }
    if tag == builder.NOT:
        assert isinstance(node, dict)
        return {
            "tag": tag,
            "text": labels.t(N_("None of these")),
            "children": [describe_rule(node[builder.NOT], labels)],
        }
    if tag == builder.RAW:
        return {"tag": tag, "text": json.dumps(node, ensure_ascii=False), "children": []}
    assert isinstance(node, dict)
    return {"tag": "condition", "text": labels.condition_text(node), "children": []}
