"""The offer editor's form: fieldsets derived from the tools' pydantic models, and the
conversion between what a planner types (yuan, percent) and the offer document (fen, bp, ppm).

One description per field (``FieldSpec``) drives the editor's inputs, the parsing of the posted
form and the offer page's terms, so a field added to a tool in ``tools.py`` shows up everywhere
with no template change; only its label is added to ``FIELD_LABELS`` (a unit test checks that
every field has one). The unit follows the field name's suffix, the convention of ``tools.py``:
a ``fen`` amount is typed in yuan, ``_bp`` and ``_ppm`` as percentages, and ``multiplier_bp`` as a
factor (×2 is 20 000 bp).

Form names are flat: ``t0.item``, ``t0.clawback.months``, ``t2.prizes.1.odds_ppm``. Problems are
keyed by the document's field paths (``tools[2].prizes[1].odds_ppm``), the same paths the
offer service's errors name, so a parse problem and a rule's refusal land beside the same input.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from telmark.offers import tools as tool_models
from telmark.offers.schemas import OfferEconomicsIn, OfferRead
from telmark.segments.labels import CODE_LABELS
from telmark.translation import N_

TOOL_MODELS: dict[str, type[BaseModel]] = {
    "gift": tool_models.Gift,
    "points": tool_models.Points,
    "subsidy": tool_models.Subsidy,
    "red_packet": tool_models.RedPacket,
    "membership": tool_models.Membership,
    "leverage": tool_models.Leverage,
    "lottery": tool_models.Lottery,
    "bundle": tool_models.Bundle,
    "referral": tool_models.Referral,
}
assert set(TOOL_MODELS) == set(tool_models.TOOL_LABELS)

# Labels by field name; a name means the same thing in every tool that has it.
FIELD_LABELS: dict[str, str] = {
    "item": N_("Gift item"),
    "unit_cost_fen": N_("Unit cost"),
    "stock": N_("Stock"),
    "amount": N_("One-off points"),
    "multiplier_bp": N_("Points multiplier"),
    "base_points_per_month": N_("Base points per month"),
    "months": N_("Months"),
    "fen_per_100_points": N_("Cost of 100 points"),
    "amount_fen": N_("Amount"),
    "clawback": N_("Clawback if the contract is broken"),
    "pro_rata": N_("Pro rata (repay the unserved share)"),
    "validity_days": N_("Valid for (days)"),
    "total_budget_fen": N_("Total budget"),
    "expected_use_bp": N_("Expected share used"),
    "tier": N_("Member tier"),
    "trial_days": N_("Trial days"),
    "monthly_benefit_cost_fen": N_("Benefit cost per member-month"),
    "partner": N_("Partner"),
    "benefit": N_("Co-branded benefit"),
    "benefit_value_fen": N_("Benefit value"),
    "partner_share_bp": N_("Partner-funded share"),
    "prizes": N_("Prize table"),
    "code": N_("Prize code"),
    "name": N_("Prize name"),
    "odds_ppm": N_("Odds per draw"),
    "budget_fen": N_("Lottery budget"),
    "components": N_("Bundle components (product codes)"),
    "discount_fen_per_month": N_("Discount per month"),
    "referrer_reward_fen": N_("Referrer reward"),
    "referee_reward_fen": N_("Referee reward"),
    "cap_per_referrer": N_("Rewarded referrals per referrer (cap)"),
    "incremental_monthly_revenue_fen": N_("Incremental monthly revenue per taker"),
    "channel_cost_share_bp": N_("Channel commission share"),
    "co_funding_bp": N_("Co-funded share of the other tools"),
}
TIER_LABELS = CODE_LABELS["value_tier"]
PRIZE_ROWS_MIN = 3  # the editor shows at least this many prize rows (blank ones are ignored)
_SPLIT = re.compile(r"[\s,，、;；]+")


class Unit(StrEnum):
    YUAN = "yuan"  # fen, typed in yuan
    PERCENT = "percent"  # basis points, typed as %
    ODDS = "odds"  # parts per million, typed as %
    FACTOR = "factor"  # basis points, typed as a multiple (×)
    WHOLE = "whole"
    TEXT = "text"
    CHOICE = "choice"
    FLAG = "flag"
    CODES = "codes"  # a list of codes, typed separated by commas or spaces
    GROUP = "group"  # a nested model (optional: a checkbox turns it on)
    ROWS = "rows"  # a list of nested models, one row each


# The factor from the number a planner types to the stored integer.
_SCALE: dict[Unit, int] = {
    Unit.YUAN: 100,
    Unit.PERCENT: 100,
    Unit.ODDS: 10_000,
    Unit.FACTOR: 10_000,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    unit: Unit
    required: bool
    default: str = ""  # the model default as form text
    choices: tuple[tuple[str, str], ...] = ()  # (value, label msgid)
    children: tuple[FieldSpec, ...] = ()
    max_rows: int = 0


def _strip(annotation: Any) -> tuple[Any, bool]:
    """The annotation without Annotated and Optional, and whether None is allowed."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            annotation = args[0]
        else:
            return annotation, optional


def _unit_of(name: str, annotation: Any) -> Unit:
    if annotation is bool:
        return Unit.FLAG
    if annotation is str:
        return Unit.TEXT
    if get_origin(annotation) is Literal:
        return Unit.CHOICE
    if name == "multiplier_bp":
        return Unit.FACTOR
    words = name.split("_")
    if "fen" in words:  # unit_cost_fen, discount_fen_per_month, fen_per_100_points
        return Unit.YUAN
    return {"bp": Unit.PERCENT, "ppm": Unit.ODDS}.get(words[-1], Unit.WHOLE)


def _max_len(metadata: list[Any]) -> int:
    return next((int(m.max_length) for m in metadata if hasattr(m, "max_length")), 1)


@cache
def fields_of(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """The editable fields of a tool (or any parameter model), in declaration order."""
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        if name == "tool":
            continue
        annotation, optional = _strip(info.annotation)
        required = info.is_required() and not optional
        label = FIELD_LABELS[name]
        if get_origin(annotation) is list:
            (item,) = get_args(annotation)
            item, _ = _strip(item)
            if isinstance(item, type) and issubclass(item, BaseModel):
                specs.append(
                    FieldSpec(name, label, Unit.ROWS, required, children=fields_of(item),
                              max_rows=_max_len(info.metadata))
                )  # fmt: skip
            else:
                specs.append(FieldSpec(name, label, Unit.CODES, required))
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            specs.append(
                FieldSpec(name, label, Unit.GROUP, required, children=fields_of(annotation))
            )
            continue
        unit = _unit_of(name, annotation)
        choices: tuple[tuple[str, str], ...] = ()
        if unit is Unit.CHOICE:
            choices = tuple((str(v), TIER_LABELS.get(str(v), str(v))) for v in get_args(annotation))
        default = "" if info.is_required() or info.default is None else _text(unit, info.default)
        specs.append(FieldSpec(name, label, unit, required, default=default, choices=choices))
    return tuple(specs)


def economics_fields() -> tuple[FieldSpec, ...]:
    return fields_of(OfferEconomicsIn)


# --- stored value ↔ form text ---------------------------------------------------------------


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def _text(unit: Unit, value: object) -> str:
    """A stored value as the editor shows it (fen → yuan, bp → %, ppm → %)."""
    if value is None:
        return ""
    if unit is Unit.FLAG:
        return "1" if value else ""
    if unit in _SCALE:
        assert isinstance(value, int)
        return _plain(Decimal(value) / _SCALE[unit])
    if unit is Unit.CODES:
        assert isinstance(value, list)
        return ", ".join(str(v) for v in value)
    return str(value)


def form_values(specs: tuple[FieldSpec, ...], data: Mapping[str, Any]) -> dict[str, str]:
    """Form text (relative names) of a stored parameter document."""
    values: dict[str, str] = {}
    for spec in specs:
        value = data.get(spec.name)
        if spec.unit is Unit.GROUP:
            if isinstance(value, Mapping):
                values[spec.name] = "1"
                for key, text in form_values(spec.children, value).items():
                    values[f"{spec.name}.{key}"] = text
        elif spec.unit is Unit.ROWS:
            for row, item in enumerate(value or []):
                for key, text in form_values(spec.children, item).items():
                    values[f"{spec.name}.{row}.{key}"] = text
        else:
            values[spec.name] = _text(spec.unit, value)
    return values


def default_values(specs: tuple[FieldSpec, ...]) -> dict[str, str]:
    """Form text of a new fieldset: the model defaults (an optional group starts off)."""
    values: dict[str, str] = {}
    for spec in specs:
        if spec.unit is Unit.GROUP:
            for key, text in default_values(spec.children).items():
                values[f"{spec.name}.{key}"] = text
        elif spec.unit is not Unit.ROWS and spec.default:
            values[spec.name] = spec.default
    return values


# --- the posted form → the offer document -----------------------------------------------------


@dataclass
class ToolState:
    """One tool of the editor as typed: its kind and its values by relative name."""

    kind: str
    values: dict[str, str]

    @property
    def label(self) -> str:
        return tool_models.TOOL_LABELS[self.kind]


@dataclass
class EditorState:
    """The editor as typed, blank prize rows dropped, and the problems found so far by path."""

    values: dict[str, str]
    tools: list[ToolState]
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, path: str, message: str) -> None:
        self.problems.setdefault(path, []).append(message)


COMMON = (
    "code", "name", "description", "action", "product_codes", "valid_from", "valid_to",
    "eligibility", "excludes",
)  # fmt: skip


def _rows(values: Mapping[str, str], prefix: str) -> int:
    """How many rows ``prefix.<n>.`` the values have (one past the highest row number)."""
    found = [
        int(m.group(1)) for k in values if (m := re.match(rf"{re.escape(prefix)}\.(\d+)\.", k))
    ]
    return max(found, default=-1) + 1


def _compact(specs: tuple[FieldSpec, ...], values: Mapping[str, str]) -> dict[str, str]:
    """Tool values with blank rows removed and the rest renumbered from 0."""
    kept = {k: v for k, v in values.items() if not any(
        s.unit is Unit.ROWS and k.startswith(s.name + ".") for s in specs)}  # fmt: skip
    for spec in specs:
        if spec.unit is not Unit.ROWS:
            continue
        out = 0
        for row in range(_rows(values, spec.name)):
            cells = {
                c.name: values.get(f"{spec.name}.{row}.{c.name}", "").strip() for c in spec.children
            }
            if not any(cells.values()):
                continue
            for name, text in cells.items():
                kept[f"{spec.name}.{out}.{name}"] = text
            out += 1
    return kept


def read_form(form: Mapping[str, str]) -> EditorState:
    """The editor's state from a posted form (tools in the order of their index)."""
    values = {name: form.get(name, "") for name in COMMON}
    for spec in economics_fields():
        values[f"economics.{spec.name}"] = form.get(f"economics.{spec.name}", "")
    indices = sorted(int(m.group(1)) for k in form if (m := re.fullmatch(r"t(\d+)\.tool", k)))
    tools: list[ToolState] = []
    for index in indices:
        kind = form[f"t{index}.tool"]
        if kind not in TOOL_MODELS:
            continue
        prefix = f"t{index}."
        raw = {k.removeprefix(prefix): v for k, v in form.items() if k.startswith(prefix)}
        raw.pop("tool", None)
        tools.append(ToolState(kind, _compact(fields_of(TOOL_MODELS[kind]), raw)))
    return EditorState(values=values, tools=tools)


def _number(state: EditorState, unit: Unit, text: str, path: str) -> int | None:
    if unit is Unit.WHOLE:
        if not re.fullmatch(r"[+-]?\d+", text):
            state.problem(path, N_("not a whole number"))
            return None
        return int(text)
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        state.problem(path, N_("not a number"))
        return None
    # Decimal, not float: money is exact (0.29 yuan is 29 fen). A finer amount than the stored
    # unit (0.001 yuan) is refused rather than rounded: the planner should see what is saved.
    scaled = amount * _SCALE[unit]
    if scaled != scaled.to_integral_value():
        state.problem(path, N_("too many decimal places"))
        return None
    return int(scaled)


def _document(
    state: EditorState, specs: tuple[FieldSpec, ...], values: Mapping[str, str], path: str
) -> dict[str, Any]:
    """A parameter document from form text; unparseable fields are recorded as problems."""
    doc: dict[str, Any] = {}
    for spec in specs:
        at = f"{path}.{spec.name}" if path else spec.name
        text = values.get(spec.name, "").strip()
        if spec.unit is Unit.FLAG:
            doc[spec.name] = bool(text)
        elif spec.unit is Unit.GROUP:
            if text or spec.required:
                inner = {k.removeprefix(spec.name + "."): v for k, v in values.items()
                         if k.startswith(spec.name + ".")}  # fmt: skip
                doc[spec.name] = _document(state, spec.children, inner, at)
        elif spec.unit is Unit.ROWS:
            rows = []
            for row in range(_rows(values, spec.name)):
                inner = {k.removeprefix(f"{spec.name}.{row}."): v for k, v in values.items()
                         if k.startswith(f"{spec.name}.{row}.")}  # fmt: skip
                rows.append(_document(state, spec.children, inner, f"{at}[{row}]"))
            doc[spec.name] = rows
        elif not text:
            continue  # absent: the model's default, or its "field required"
        elif spec.unit is Unit.CODES:
            doc[spec.name] = [c for c in _SPLIT.split(text) if c]
        elif spec.unit in (Unit.TEXT, Unit.CHOICE):
            doc[spec.name] = text
        else:
            number = _number(state, spec.unit, text, at)
            if number is not None:
                doc[spec.name] = number
    return doc


def offer_document(state: EditorState) -> dict[str, Any]:
    """The offer document the editor describes; parse problems are added to ``state``."""
    v = state.values
    doc: dict[str, Any] = {
        "code": v["code"].strip(),
        "name": v["name"].strip(),
        "description": v["description"].strip(),
        "action": v["action"].strip(),
        "product_codes": [c for c in _SPLIT.split(v["product_codes"]) if c],
        "valid_from": v["valid_from"].strip(),
        "valid_to": v["valid_to"].strip() or None,
        "excludes": [c for c in _SPLIT.split(v["excludes"]) if c],
        "tools": [
            {
                "tool": t.kind,
                **_document(state, fields_of(TOOL_MODELS[t.kind]), t.values, f"tools[{i}]"),
            }
            for i, t in enumerate(state.tools)
        ],  # fmt: skip
        "economics": _document(
            state,
            economics_fields(),
            {k.removeprefix("economics."): x for k, x in v.items() if k.startswith("economics.")},
            "economics",
        ),
    }
    rule = v["eligibility"].strip()
    if rule:
        try:
            doc["eligibility"] = json.loads(rule)
        except json.JSONDecodeError as error:
            state.problem("eligibility", f"JSON: {error.msg} (line {error.lineno})")
    return doc


def preview_document(state: EditorState, today: date) -> dict[str, Any]:
    """The document with its naming fields filled in where blank: the preview answers what the
    incentive costs and earns, which a planner wants to see before naming the offer."""
    doc = offer_document(state)
    doc["code"] = doc["code"] or "PREVIEW"
    doc["name"] = doc["name"] or "PREVIEW"
    doc["action"] = doc["action"] or "new"
    doc["product_codes"] = doc["product_codes"] or ["PREVIEW"]
    doc["valid_from"] = doc["valid_from"] or today.isoformat()
    return doc


def state_of(offer: OfferRead) -> EditorState:
    """The editor prefilled with an offer's current terms (the start of the next version)."""
    values = {
        "code": offer.code,
        "name": offer.name,
        "description": offer.description,
        "action": str(offer.action),
        "product_codes": ", ".join(offer.product_codes),
        "valid_from": offer.valid_from.isoformat(),
        "valid_to": offer.valid_to.isoformat() if offer.valid_to else "",
        "eligibility": json.dumps(offer.eligibility, ensure_ascii=False, indent=2)
        if offer.eligibility
        else "",
        "excludes": ", ".join(offer.excludes),
    }
    inputs = offer.economics_in.model_dump()
    for key, text in form_values(economics_fields(), inputs).items():
        values[f"economics.{key}"] = text
    tools = [
        ToolState(t["tool"], form_values(fields_of(TOOL_MODELS[t["tool"]]), t)) for t in offer.tools
    ]
    return EditorState(values=values, tools=tools)


def empty_state() -> EditorState:
    values = dict.fromkeys(COMMON, "")
    values |= {f"economics.{k}": v for k, v in default_values(economics_fields()).items()}
    return EditorState(values=values, tools=[])


def new_tool(kind: str) -> ToolState:
    return ToolState(kind, default_values(fields_of(TOOL_MODELS[kind])))


# --- views for the templates -------------------------------------------------------------------


def slug(path: str) -> str:
    """An element id for a field path (`tools[0].code` → `fe-tools-0-code`)."""
    return "fe-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def widgets(
    specs: tuple[FieldSpec, ...], values: Mapping[str, str], name: str, path: str
) -> list[dict[str, Any]]:
    """The inputs of a fieldset: form name, error path, label, unit and current text."""
    out: list[dict[str, Any]] = []
    for spec in specs:
        at = f"{path}.{spec.name}" if path else spec.name
        item: dict[str, Any] = {
            "spec": spec,
            "name": f"{name}{spec.name}",
            "path": at,
            "value": values.get(spec.name, ""),
        }
        if spec.unit is Unit.GROUP:
            inner = {k.removeprefix(spec.name + "."): v for k, v in values.items()
                     if k.startswith(spec.name + ".")}  # fmt: skip
            item["children"] = widgets(spec.children, inner, f"{name}{spec.name}.", at)
        elif spec.unit is Unit.ROWS:
            filled = _rows(values, spec.name)
            count = min(spec.max_rows, max(PRIZE_ROWS_MIN, filled + 1))
            item["rows"] = [
                widgets(
                    spec.children,
                    {k.removeprefix(f"{spec.name}.{r}."): v for k, v in values.items()
                     if k.startswith(f"{spec.name}.{r}.")},
                    f"{name}{spec.name}.{r}.",
                    f"{at}[{r}]",
                )
                for r in range(count)
            ]  # fmt: skip
        out.append(item)
    return out


def tool_views(state: EditorState) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "kind": t.kind,
            "label": t.label,
            "path": f"tools[{i}]",
            "widgets": widgets(fields_of(TOOL_MODELS[t.kind]), t.values, f"t{i}.", f"tools[{i}]"),
        }
        for i, t in enumerate(state.tools)
    ]


def economics_widgets(state: EditorState) -> list[dict[str, Any]]:
    values = {k.removeprefix("economics."): v for k, v in state.values.items()
              if k.startswith("economics.")}  # fmt: skip
    return widgets(economics_fields(), values, "economics.", "economics")


def _paths(items: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for item in items:
        found.append(item["path"])
        found.extend(_paths(item.get("children", [])))
        for row in item.get("rows", []):
            found.extend(_paths(row))
    return found


def preview_slots(state: EditorState) -> list[str]:
    """The error places the preview answers for: the tools and the economics."""
    slots = ["tools"]
    for view in tool_views(state):
        slots.append(view["path"])
        slots.extend(_paths(view["widgets"]))
    slots.extend(_paths(economics_widgets(state)))
    return slots


def all_slots(state: EditorState) -> list[str]:
    return [*COMMON, *preview_slots(state)]


def place_problems(
    problems: list[tuple[str, str]], slots: list[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Problems by the nearest error place (``product_codes[1]`` → ``product_codes``), and the
    ones that belong to no field. A whole-offer message that starts with a field's path
    (``valid_to: must not be before valid_from``) goes beside that field."""
    by_slot: dict[str, list[str]] = {}
    general: list[str] = []
    ordered = sorted(slots, key=len, reverse=True)
    for path, message in problems:
        if path in ("", "offer"):
            head, _, rest = message.partition(": ")
            if head in slots and rest:
                path, message = head, rest
        slot = next((s for s in ordered if path == s or path.startswith((s + ".", s + "["))), None)
        if slot is None:
            general.append(f"{path}: {message}" if path not in ("", "offer") else message)
        else:
            by_slot.setdefault(slot, []).append(message)
    return by_slot, general


def terms(specs: tuple[FieldSpec, ...], data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A stored parameter document as labelled values for the offer page."""
    out: list[dict[str, Any]] = []
    for spec in specs:
        value = data.get(spec.name)
        item: dict[str, Any] = {"spec": spec, "value": value}
        if spec.unit is Unit.GROUP:
            if not isinstance(value, Mapping):
                continue
            item["children"] = terms(spec.children, value)
        elif spec.unit is Unit.ROWS:
            item["rows"] = [terms(spec.children, row) for row in value or []]
        elif value is None:
            continue
        elif spec.unit in _SCALE:
            item["number"] = Decimal(int(value)) / _SCALE[spec.unit]
        out.append(item)
    return out


def tool_terms(tool: Mapping[str, Any]) -> list[dict[str, Any]]:
    return terms(fields_of(TOOL_MODELS[str(tool["tool"])]), tool)
