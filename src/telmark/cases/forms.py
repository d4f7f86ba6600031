"""The console's case forms: what a planner types (yuan, percent) ↔ the case plan (fen, bp),
and every problem keyed by the form field it belongs to.

Form names are the plan's own field paths, dotted: ``budget_fen``, ``claim.uplift_bp``,
``lines.1.take_up_bp``. The service and pydantic name problems by the same paths
(``lines[1].take_up_bp``, loc ``("lines", 1, "take_up_bp")``), so a parse problem, a schema
refusal and a rule of the service all land beside the same input with no mapping table. The
unit follows the name's suffix, the convention of the schemas: ``_fen`` is typed in yuan,
``_bp`` as a percentage (``claim.uplift_bp`` as percentage points); a KPI or checkpoint target
takes the unit of its metric (take-up in %, revenue in yuan, counts whole).

Blank rows of the line, KPI and checkpoint tables are dropped and the rest renumbered before
anything is parsed, so the numbers in problems match the rows the re-rendered form shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from telmark.cases.domain import BP, Metric
from telmark.cases.schemas import (
    CaseRead,
    FromTemplate,
    IssueIn,
    LocaliseIn,
    ReissueIn,
)
from telmark.errors import DomainError
from telmark.translation import N_

PlanT = TypeVar("PlanT", bound=BaseModel)

SCALARS = (
    "name", "owner", "org_code", "objective", "hypothesis", "claim.offer_code",
    "claim.uplift_bp", "snapshot_id", "channels", "starts_on", "ends_on", "horizon_months",
    "budget_fen", "holdout_bp", "priority", "business_weight_bp", "version",
)  # fmt: skip
ROWS: Mapping[str, tuple[str, ...]] = {
    "lines": ("offer_code", "channel", "reach_bp", "take_up_bp", "contact_cost_fen"),
    "kpis": ("metric", "target"),
    "checkpoints": ("on", "metric", "target"),
}
BLANK_ROWS = 2  # empty rows offered below the filled ones
MIN_ROWS = 3
WHOLE = frozenset({"snapshot_id", "horizon_months", "priority", "version"})
_SPLIT = re.compile(r"[\s,，、;；]+")
_INDEX = re.compile(r"\[(\d+)\]")

MSG_NOT_NUMBER = N_("not a number")
MSG_NOT_WHOLE = N_("not a whole number")
MSG_DECIMALS = N_("too many decimal places")
MSG_NOT_DATE = N_("not a date (YYYY-MM-DD)")
MSG_REQUIRED = N_("required")


@dataclass
class FormState:
    """A form as typed (blank rows dropped) and the problems found so far, by field name."""

    values: dict[str, str]
    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, path: str, message: str) -> None:
        self.problems.setdefault(path, []).append(message)

    def shown_rows(self, table: str) -> list[dict[str, str]]:
        """The filled rows of ``table`` and blank ones to add more (at least ``MIN_ROWS``)."""
        filled = self.rows.get(table, [])
        blank = dict.fromkeys(ROWS[table], "")
        count = max(MIN_ROWS, len(filled) + BLANK_ROWS)
        return filled + [dict(blank) for _ in range(count - len(filled))]


# --- units ------------------------------------------------------------------------------------


def _scale(name: str) -> int:
    """The factor from the number typed to the stored integer (1 for whole numbers)."""
    if name.endswith("_fen"):
        return 100  # yuan → fen
    if name.endswith("_bp"):
        return BP // 100  # percent → basis points
    return 1


def _target_scale(metric: str) -> int:
    return _scale(metric) if metric in Metric.__members__.values() else 1


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")


def text_of(value: int | None, scale: int) -> str:
    """A stored integer as the form shows it (fen → yuan, bp → percent)."""
    if value is None:
        return ""
    return str(value) if scale == 1 else _plain(Decimal(value) / scale)


def _number(state: FormState, path: str, text: str, scale: int) -> int | None:
    """The stored integer of a typed number; a problem (and None) when it is not one."""
    if scale == 1:
        if not re.fullmatch(r"[+-]?\d+", text):
            state.problem(path, MSG_NOT_WHOLE)
            return None
        return int(text)
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        state.problem(path, MSG_NOT_NUMBER)
        return None
    # Decimal, never float: 0.29 yuan is 29 fen exactly. A finer amount than the stored unit is
    # refused rather than rounded, so the planner sees exactly what is saved.
    scaled = amount * scale
    if scaled != scaled.to_integral_value():
        state.problem(path, MSG_DECIMALS)
        return None
    return int(scaled)


def _date(state: FormState, path: str, text: str) -> str | None:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        state.problem(path, MSG_NOT_DATE)
        return None


# --- the plan form ----------------------------------------------------------------------------


def _rows_of(form: Mapping[str, str], table: str) -> list[dict[str, str]]:
    """The rows ``table.<n>.<field>`` of a posted form, blank ones dropped, in row order."""
    numbers = sorted(
        {int(m.group(1)) for k in form if (m := re.fullmatch(rf"{table}\.(\d+)\.\w+", k))}
    )
    rows = []
    for n in numbers:
        row = {name: form.get(f"{table}.{n}.{name}", "").strip() for name in ROWS[table]}
        if any(row.values()):
            rows.append(row)
    return rows


def read_form(form: Mapping[str, str]) -> FormState:
    """The plan form's state from a posted form."""
    values = {name: form.get(name, "").strip() for name in SCALARS}
    return FormState(values=values, rows={t: _rows_of(form, t) for t in ROWS})


def _scalar(state: FormState, doc: dict[str, Any], name: str) -> None:
    text = state.values.get(name, "")
    if not text:
        return  # absent: the schema's default, or its "field required"
    if name in ("starts_on", "ends_on"):
        parsed: object = _date(state, name, text)
    elif name in WHOLE or name.endswith(("_fen", "_bp")):
        parsed = _number(state, name, text, _scale(name))
    elif name == "channels":
        parsed = [c for c in _SPLIT.split(text) if c]
    else:
        parsed = text
    if parsed is not None:
        doc[name] = parsed


def _row_document(state: FormState, table: str, index: int, row: dict[str, str]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name in ROWS[table]:
        text = row.get(name, "")
        path = f"{table}.{index}.{name}"
        if not text:
            continue
        if name == "on":
            parsed: object = _date(state, path, text)
        elif name == "target":
            parsed = _number(state, path, text, _target_scale(row.get("metric", "")))
        elif name.endswith(("_fen", "_bp")):
            parsed = _number(state, path, text, _scale(name))
        else:
            parsed = text
        if parsed is not None:
            doc[name] = parsed
    return doc


def plan_document(state: FormState) -> dict[str, Any]:
    """The plan the form describes (for ``CaseCreate``/``CaseUpdate``); problems to ``state``."""
    doc: dict[str, Any] = {}
    for name in SCALARS:
        if not name.startswith("claim."):
            _scalar(state, doc, name)
    claim: dict[str, Any] = {}
    for name in ("claim.offer_code", "claim.uplift_bp"):
        _scalar(state, claim, name)
    if claim:
        doc["claim"] = {k.removeprefix("claim."): v for k, v in claim.items()}
    for table in ROWS:
        doc[table] = [_row_document(state, table, i, r) for i, r in enumerate(state.rows[table])]
    return doc


def _validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    found = []
    for e in error.errors():
        path = ".".join(str(p) for p in e["loc"])
        message = str(e["msg"]).removeprefix("Value error, ")
        found.append((path, message))
    return found


def parse(model: type[PlanT], doc: dict[str, Any], state: FormState) -> PlanT | None:
    """``doc`` as ``model``; None (with the problems in ``state``) if the form has any."""
    try:
        parsed = model.model_validate(doc)
    except ValidationError as error:
        for path, message in _validation_problems(error):
            if path not in state.problems:  # said already, in the planner's terms
                state.problem(path, message)
        return None
    return None if state.problems else parsed


def refusal_problems(error: DomainError) -> list[tuple[str, str]]:
    """A service's refusal as (form path, message) pairs: ``lines[0].x`` → ``lines.0.x``."""
    if not error.details:
        return [("", error.message)]
    found = []
    for detail in error.details:
        path = _INDEX.sub(r".\1", str(detail.get("field", "")))
        reason = detail.get("reason") or detail.get("message")
        message = str(reason) if reason else error.message
        if path and message.startswith(str(detail.get("field")) + ": "):
            message = message.split(": ", 1)[1]
        found.append((path, message))
    return found


def place_problems(
    problems: Sequence[tuple[str, str]], slots: Sequence[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Problems by the nearest field (``lines.0`` → the row's first slot is not guessed: it goes
    to ``lines``), and the ones that belong to no field. A message naming a field first
    (``ends_on: must not be before starts_on``) goes beside that field."""
    by_slot: dict[str, list[str]] = {}
    general: list[str] = []
    ordered = sorted(slots, key=len, reverse=True)
    for path, message in problems:
        if not path:
            head, _, rest = message.partition(": ")
            if head in slots and rest:
                path, message = head, rest
        slot = next((s for s in ordered if path == s or path.startswith(s + ".")), None)
        if slot is None:
            general.append(f"{path}: {message}" if path else message)
        else:
            by_slot.setdefault(slot, []).append(message)
    return by_slot, general


def plan_slots(state: FormState) -> list[str]:
    """Every field that shows its own problems: scalars, table names and each row's cells."""
    slots = [*SCALARS, "claim", *ROWS]
    for table, names in ROWS.items():
        for i in range(len(state.shown_rows(table))):
            slots.extend(f"{table}.{i}.{n}" for n in names)
    return slots


def state_of(case: CaseRead) -> FormState:
    """The form prefilled with a draft's plan (for editing)."""
    values = {
        "name": case.name,
        "owner": case.owner,
        "org_code": case.org_code,
        "objective": str(case.objective),
        "hypothesis": case.hypothesis,
        "claim.offer_code": case.claim.offer_code if case.claim else "",
        "claim.uplift_bp": text_of(case.claim.uplift_bp, _scale("uplift_bp")) if case.claim else "",
        "snapshot_id": "" if case.snapshot_id is None else str(case.snapshot_id),
        "channels": ", ".join(case.channels),
        "starts_on": case.starts_on.isoformat(),
        "ends_on": case.ends_on.isoformat(),
        "horizon_months": str(case.horizon_months),
        "budget_fen": text_of(case.budget_fen, 100),
        "holdout_bp": text_of(case.holdout_bp, 100),
        "priority": str(case.priority),
        "business_weight_bp": text_of(case.business_weight_bp, 100),
        "version": str(case.version),
    }
    lines = [
        {
            "offer_code": ln.offer_code,
            "channel": ln.channel,
            "reach_bp": text_of(ln.reach_bp, 100),
            "take_up_bp": text_of(ln.take_up_bp, 100),
            "contact_cost_fen": text_of(ln.contact_cost_fen, 100),
        }
        for ln in case.lines
    ]
    kpis = [
        {"metric": str(k.metric), "target": text_of(k.target, _target_scale(k.metric))}
        for k in case.kpis
    ]
    checkpoints = [
        {
            "on": c.on.isoformat(),
            "metric": str(c.metric),
            "target": text_of(c.target, _target_scale(c.metric)),
        }
        for c in case.checkpoints
    ]
    return FormState(values=values, rows={"lines": lines, "kpis": kpis, "checkpoints": checkpoints})


def blank_state(*, org_code: str, starts_on: date, ends_on: date) -> FormState:
    """A new blank plan: the schema's defaults, shown in the form's units."""
    values = dict.fromkeys(SCALARS, "")
    values |= {
        "org_code": org_code,
        "objective": "upsell",
        "starts_on": starts_on.isoformat(),
        "ends_on": ends_on.isoformat(),
        "horizon_months": "12",
        "budget_fen": "0",
        "holdout_bp": "10",
        "priority": "5",
        "business_weight_bp": "50",
    }
    return FormState(values=values, rows={t: [] for t in ROWS})


# --- from a template --------------------------------------------------------------------------

TEMPLATE_FIELDS = ("template", "name", "org_code", "snapshot_id", "starts_on", "budget_fen")
OFFER_PREFIX = "offer."  # one checkbox per offer: ``offer.<code>``


def read_template_form(form: Mapping[str, str]) -> FormState:
    values = {name: form.get(name, "").strip() for name in TEMPLATE_FIELDS}
    chosen = [k.removeprefix(OFFER_PREFIX) for k, v in form.items() if k.startswith(OFFER_PREFIX)]
    values["offer_codes"] = ",".join(c for c in chosen if form.get(OFFER_PREFIX + c))
    return FormState(values=values)


def from_template(state: FormState) -> FromTemplate | None:
    """The ``FromTemplate`` request the form describes; None with problems in ``state``."""
    doc: dict[str, Any] = {}
    for name in TEMPLATE_FIELDS:
        _scalar(state, doc, name)
    doc["offer_codes"] = [c for c in state.values["offer_codes"].split(",") if c]
    return parse(FromTemplate, doc, state)


# --- issuing, localising, re-issuing ----------------------------------------------------------


def issue_request(
    form: Mapping[str, str], units: Sequence[str], version: int | None
) -> tuple[FormState, IssueIn | None]:
    """The issue form: the units ticked, split by base size or by hand (``part.<unit>``)."""
    chosen = [u for u in units if form.get(f"unit.{u}")]
    values = {
        "split": form.get("split", "base"),
        "total": form.get("total", "").strip(),
        "ack_hours": form.get("ack_hours", "").strip(),
    }
    values |= {f"unit.{u}": "1" for u in chosen}
    values |= {f"part.{u}": form.get(f"part.{u}", "").strip() for u in units}
    state = FormState(values=values)
    doc: dict[str, Any] = {"version": version, "units": chosen}
    if not chosen:
        state.problem("units", N_("tick at least one unit"))
    for name in ("total", "ack_hours"):
        if values[name]:
            doc[name] = _number(state, name, values[name], 1)
    if values["split"] == "manual":
        doc.pop("total", None)  # by hand, the parts are the whole
        doc["parts"] = {
            u: _number(state, f"part.{u}", values[f"part.{u}"] or "0", 1) for u in chosen
        }
    return state, parse(IssueIn, doc, state)


def localise_request(
    form: Mapping[str, str], channels: Sequence[str]
) -> tuple[FormState, LocaliseIn | None]:
    """The localise form: a rule (JSON), outlet codes, and a share (%) per channel."""
    values = {
        "rule": form.get("rule", "").strip(),
        "outlets": form.get("outlets", "").strip(),
        "version": form.get("version", "").strip(),
    }
    values |= {f"share.{c}": form.get(f"share.{c}", "").strip() for c in channels}
    state = FormState(values=values)
    doc: dict[str, Any] = {
        "outlets": [c for c in _SPLIT.split(state.values["outlets"]) if c],
        "channels": [],
    }
    if state.values["rule"]:
        try:
            doc["rule"] = json.loads(state.values["rule"])
        except json.JSONDecodeError as error:
            state.problem("rule", f"JSON: {error.msg} (line {error.lineno})")
    if state.values["version"]:
        doc["version"] = _number(state, "version", state.values["version"], 1)
    for channel in channels:
        text = state.values[f"share.{channel}"]
        if text:
            share = _number(state, f"share.{channel}", text, _scale("share_bp"))
            doc["channels"].append({"channel": channel, "share_bp": share})
    return state, parse(LocaliseIn, doc, state)


REISSUE_ROWS = 5


def reissue_request(form: Mapping[str, str]) -> tuple[FormState, ReissueIn | None]:
    """The re-issue form: rows of (``org:<code>`` or ``staff:<code>``, target) and the split."""
    rows = []
    for i in range(REISSUE_ROWS):
        row = {
            "to": form.get(f"to.{i}.to", "").strip(),
            "target": form.get(f"to.{i}.target", "").strip(),
        }
        if any(row.values()):
            rows.append(row)
    values = {"split": form.get("split", "manual"), "ack_hours": form.get("ack_hours", "").strip()}
    state = FormState(values=values, rows={"to": rows})
    parts: list[dict[str, Any]] = []
    for i, row in enumerate(state.rows["to"]):
        kind, _, code = row["to"].partition(":")
        if kind not in ("org", "staff") or not code:
            state.problem(f"to.{i}.to", MSG_REQUIRED)
            continue
        part: dict[str, Any] = {"org_code" if kind == "org" else "staff_code": code}
        if row["target"]:
            part["target"] = _number(state, f"to.{i}.target", row["target"], 1)
        parts.append(part)
    doc: dict[str, Any] = {"to": parts, "split": state.values["split"]}
    if state.values["ack_hours"]:
        doc["ack_hours"] = _number(state, "ack_hours", state.values["ack_hours"], 1)
    return state, parse(ReissueIn, doc, state)
