"""The console's rule builder: a draft rule tree <-> form fields, and tree edits.

The builder page is one HTML form whose fields encode the draft rule by node
path — the paths ``InvalidRule`` details name (``root.all[2].any[0]``):

* ``<path>:node`` — the node's tag: ``all``, ``any``, ``not``, a condition kind,
  or ``raw`` for a node the builder cannot show as widgets (then ``<path>:raw``
  holds its JSON, so a typo pasted in the JSON tab survives tree edits);
* ``<path>:<attribute>`` — one form value per condition attribute (several for
  a list), ``<path>:value`` / ``:value_low`` / ``:value_high`` for the compared
  value, and ``<path>:sig`` — the type of the compared target when the node was
  rendered, so a change of field (say gender → birth year) drops a value that
  no longer fits instead of reporting it.

Every change posts the whole form; ``form_to_draft`` rebuilds the draft (which
may be invalid: it is validated separately, so errors land on their node),
``apply_action`` applies an add/remove/negate button, and the page re-renders
the tree from the draft with ``encode_node``. Conditions are described from the
rule models' JSON Schema (``kind_spec``), so a new condition kind in
``rules.CONDITIONS`` gets widgets without changes here: enums become selects,
integers number inputs, lists multi-selects or comma-separated text.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from telmark.errors import InvalidInput
from telmark.segments import fields as catalogue
from telmark.segments import rules
from telmark.segments.fields import NULL_OPS, Field, Op
from telmark.warehouse.contract import ColType

FormData = Mapping[str, Sequence[str]]
Draft = dict[str, Any]

GROUPS = ("all", "any")
NOT = "not"
RAW = "raw"
VALUE_ATTRS = ("op", "value")
LIST_OPS = frozenset({Op.IN.value, Op.NOT_IN.value})
# Display order of operators (the catalogue stores them as sets).
OP_ORDER: tuple[Op, ...] = (
    Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN, Op.IN, Op.NOT_IN, Op.IS_NULL, Op.NOT_NULL,
)  # fmt: skip
# Starting values of whole-number attributes of a new condition (else: empty).
DEFAULT_INTS = {"months": 3, "days": 30}
# Choices the JSON Schema does not carry (validated by the model, listed by the catalogue).
EXTRA_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("enterprise", "tiers"): catalogue.ENTERPRISE_TIERS,
    ("enterprise", "industries"): catalogue.ENTERPRISE_INDUSTRIES,
}
# Items of a free-text list: commas (ASCII or full-width), the enumeration comma, new lines.
_LIST_SPLIT = re.compile(r"[,，、\n]")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_STEP = re.compile(r"\.(all|any)\[(\d+)\]|\.(not)")


# -- condition kinds, described from the rule models -------------------------------------


@dataclass(frozen=True, slots=True)
class AttrSpec:
    """One attribute of a condition kind other than ``op``/``value``, and its widget shape."""

    name: str
    shape: str  # choice | multi | list | int | number | bool | text
    required: bool
    choices: tuple[str, ...] = ()
    item_shape: str = "text"  # of list items: int | number | text
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str
    model: type[Any]
    attrs: tuple[AttrSpec, ...]
    comparison: bool

    def target(self, node: Mapping[str, Any]) -> Field | None:
        """The compared target of a (possibly invalid) draft condition, if it names one."""
        if not self.comparison:
            return None
        try:
            found: Field | None = self.model._target_of(node)
        except (TypeError, ValueError, KeyError):  # a malformed draft names no target
            return None
        return found


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str):
        return dict(defs.get(ref.rsplit("/", 1)[-1], {}))
    return dict(prop)


def _attr_spec(
    kind: str, name: str, prop: Mapping[str, Any], required: bool, defs: Mapping[str, Any]
) -> AttrSpec:
    variants = [_resolve(v, defs) for v in prop.get("anyOf", [prop])]
    main = next((v for v in variants if v.get("type") != "null"), {})
    choices = tuple(prop.get("enum") or main.get("enum") or ())
    kind_of = main.get("type")
    if isinstance(kind_of, list):
        kind_of = next((t for t in kind_of if t != "null"), None)
    if kind_of == "array":
        items = _resolve(main.get("items", {}), defs)
        listed = tuple(items.get("enum") or EXTRA_CHOICES.get((kind, name), ()))
        item = {"integer": "int", "number": "number"}.get(str(items.get("type")), "text")
        shape = "multi" if listed else "list"
        return AttrSpec(name, shape, required, listed, item_shape=item)
    if choices:
        return AttrSpec(name, "choice", required, tuple(str(c) for c in choices))
    shape = {"integer": "int", "number": "number", "boolean": "bool"}.get(str(kind_of), "text")
    return AttrSpec(name, shape, required, minimum=main.get("minimum"), maximum=main.get("maximum"))


@cache
def kind_spec(kind: str) -> KindSpec:
    """The attributes of condition ``kind`` (KeyError if ``rules.CONDITIONS`` has no such kind)."""
    model = rules.CONDITIONS[kind]
    schema = model.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    comparison = issubclass(model, rules.Comparison)
    attrs = tuple(
        _attr_spec(kind, name, prop, name in required, defs)
        for name, prop in schema.get("properties", {}).items()
        if name != "kind" and not (comparison and name in VALUE_ATTRS)
    )
    return KindSpec(kind=kind, model=model, attrs=attrs, comparison=comparison)


def condition_kinds() -> list[str]:
    """Every condition kind of the rule language, in ``rules.CONDITIONS`` order."""
    return list(rules.CONDITIONS)


def ordered_ops(target: Field | None) -> list[str]:
    allowed = set(OP_ORDER) if target is None else target.ops
    return [op.value for op in OP_ORDER if op in allowed]


def default_op(target: Field | None) -> str:
    """The operator a new condition starts with: equality for codes, ``>=`` for measures."""
    ops = ordered_ops(target)
    if target is not None and (target.allowed or target.type in (ColType.STRING, ColType.BOOL)):
        return Op.EQ.value if Op.EQ.value in ops else ops[0]
    return Op.GE.value if Op.GE.value in ops else ops[0]


def signature(target: Field | None) -> str:
    """What a compared value must fit: the target's type and allowed values."""
    if target is None:
        return ""
    return f"{target.type.value}|{','.join(target.allowed or ())}"


def new_condition(kind: str) -> Draft:
    """A fresh condition of ``kind``: required choices at their first option, no value."""
    spec = kind_spec(kind)
    node: Draft = {"kind": kind}
    for attr in spec.attrs:
        if not attr.required:
            continue
        if attr.shape == "choice":
            node[attr.name] = attr.choices[0]
        elif attr.shape == "int" and attr.name in DEFAULT_INTS:
            low = int(attr.minimum) if attr.minimum is not None else DEFAULT_INTS[attr.name]
            node[attr.name] = max(low, DEFAULT_INTS[attr.name])
    if spec.comparison:
        node["op"] = default_op(spec.target(node))
    return node


# -- node paths and tags --------------------------------------------------------------------


def parse_path(path: str) -> list[tuple[str, int | None]]:
    """``root.all[2].not`` → ``[("all", 2), ("not", None)]``; InvalidInput if malformed."""
    if not path.startswith("root"):
        raise InvalidInput(f"not a node path: {path!r}", details=[{"path": path}])
    steps: list[tuple[str, int | None]] = []
    pos = 4
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None:
            raise InvalidInput(f"not a node path: {path!r}", details=[{"path": path}])
        steps.append(("not", None) if match.group(3) else (match.group(1), int(match.group(2))))
        pos = match.end()
    return steps


def node_tag(node: object) -> str:
    """``all``/``any``/``not``, the condition kind, or ``raw`` for anything else."""
    if isinstance(node, dict):
        groups = [g for g in (*GROUPS, NOT) if g in node]
        if len(groups) == 1 and (groups[0] == NOT or isinstance(node[groups[0]], list)):
            return groups[0]
        kind = node.get("kind")
        if not groups and isinstance(kind, str) and kind in rules.CONDITIONS:
            return kind
    return RAW


def walk_draft(node: object, path: str = "root") -> Iterator[tuple[str, object]]:
    """Every node of a draft (valid or not) with its path, parents first."""
    yield path, node
    tag = node_tag(node)
    if tag in GROUPS:
        assert isinstance(node, dict)
        for i, child in enumerate(node[tag]):
            yield from walk_draft(child, f"{path}.{tag}[{i}]")
    elif tag == NOT:
        assert isinstance(node, dict)
        if node[NOT] is not None:
            yield from walk_draft(node[NOT], f"{path}.not")


# -- form -> draft ---------------------------------------------------------------------------


def _first(form: FormData, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _number(text: str, shape: str) -> object:
    """A whole number or decimal from text, or the text itself (validation then names it)."""
    stripped = text.strip()
    if _INT.fullmatch(stripped):
        return int(stripped)
    if shape == "number" and _FLOAT.fullmatch(stripped):
        return float(stripped)
    return text


def _scalar(text: str, shape: str) -> object:
    if shape in ("int", "number"):
        return _number(text, shape)
    if shape == "bool":
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    return text


def _split(values: Sequence[str]) -> list[str]:
    return [item.strip() for v in values for item in _LIST_SPLIT.split(v) if item.strip()]


def _attr_value(attr: AttrSpec, values: Sequence[str]) -> object:
    if attr.shape in ("multi", "list"):
        items = [v for v in values if v != ""] if attr.shape == "multi" else _split(values)
        return [_scalar(i, attr.item_shape) for i in items] or None
    text = values[0] if values else ""
    if text.strip() == "":
        return None
    return _scalar(text, attr.shape)


def _target_shape(target: Field | None) -> str:
    if target is None:
        return "text"
    return {
        ColType.INT: "int",
        ColType.FLOAT: "number",
        ColType.BOOL: "bool",
    }.get(target.type, "text")


def _compared(form: FormData, path: str, op: str | None, target: Field | None) -> object:
    """The compared value in the shape ``op`` needs, carried over from another op's widgets."""
    shape = _target_shape(target)
    scalars = list(form.get(f"{path}:value", []))
    low, high = _first(form, f"{path}:value_low"), _first(form, f"{path}:value_high")
    if op in {o.value for o in NULL_OPS}:
        return None
    if op in LIST_OPS:
        pair = [v for v in (low, high) if v]
        chosen = target is not None and (target.allowed is not None or shape == "bool")
        items = ([v for v in scalars if v != ""] if chosen else _split(scalars)) or pair
        return [_scalar(i, shape) for i in items] or None
    if op == Op.BETWEEN.value:
        if low is None and high is None:
            low, high = (scalars + [None, None])[:2]
        if not low and not high:
            return None
        return [None if not v else _scalar(v, shape) for v in (low, high)]
    text = scalars[0] if scalars else low
    if text is None or text == "":
        return None
    return _scalar(text, shape)


def _condition_from_form(form: FormData, path: str, kind: str) -> Draft:
    spec = kind_spec(kind)
    node: Draft = {"kind": kind}
    for attr in spec.attrs:
        value = _attr_value(attr, form.get(f"{path}:{attr.name}", []))
        if value is not None:
            node[attr.name] = value
    if not spec.comparison:
        return node
    target = spec.target(node)
    op = _first(form, f"{path}:op") or None
    rendered_for = _first(form, f"{path}:sig")
    retargeted = rendered_for is not None and rendered_for != signature(target)
    if op is None or (retargeted and target is not None and op not in ordered_ops(target)):
        op = default_op(target)
    node["op"] = op
    value = None if retargeted else _compared(form, path, op, target)
    if value is not None:
        node["value"] = value
    return node


def _node_from_form(form: FormData, path: str, paths: set[str]) -> object:
    tag = _first(form, f"{path}:node")
    if tag in GROUPS:
        child = re.compile(re.escape(path) + r"\.(?:all|any)\[(\d+)\]")
        found = sorted((int(m.group(1)), p) for p in paths if (m := child.fullmatch(p)))
        return {tag: [_node_from_form(form, p, paths) for _, p in found]}
    if tag == NOT:
        inner = f"{path}.not"
        return {NOT: _node_from_form(form, inner, paths) if inner in paths else None}
    if tag in rules.CONDITIONS:
        return _condition_from_form(form, path, tag)
    raw = _first(form, f"{path}:raw") or "null"
    try:
        parsed: object = json.loads(raw)
    except ValueError:
        parsed = raw
    return parsed


def form_to_draft(form: FormData) -> Draft:
    """The draft rule document the builder's form fields encode (it may not validate)."""
    paths = {name.removesuffix(":node") for name in form if name.endswith(":node")}
    if "root" not in paths:
        return {"version": 1, "root": {"all": []}}
    return {"version": 1, "root": _node_from_form(form, "root", paths)}


# -- draft -> form ---------------------------------------------------------------------------


def as_text(value: object) -> str:
    """A draft value as a form field holds it (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def encode_condition(node: Mapping[str, Any], path: str) -> dict[str, list[str]]:
    """The form fields of one condition node (read back by ``form_to_draft``)."""
    kind = str(node["kind"])
    spec = kind_spec(kind)
    fields: dict[str, list[str]] = {f"{path}:node": [kind]}
    for attr in spec.attrs:
        value = node.get(attr.name)
        if value is None:
            continue
        if attr.shape in ("multi", "list") and isinstance(value, list):
            texts = [as_text(v) for v in value]
            fields[f"{path}:{attr.name}"] = texts if attr.shape == "multi" else [", ".join(texts)]
        else:
            fields[f"{path}:{attr.name}"] = [as_text(value)]
    if not spec.comparison:
        return fields
    target = spec.target(node)
    fields[f"{path}:sig"] = [signature(target)]
    op = node.get("op")
    if op is not None:
        fields[f"{path}:op"] = [as_text(op)]
    value = node.get("value")
    if value is None:
        return fields
    if op == Op.BETWEEN.value and isinstance(value, list) and len(value) == 2:
        fields[f"{path}:value_low"] = [as_text(value[0])]
        fields[f"{path}:value_high"] = [as_text(value[1])]
    elif op in LIST_OPS and isinstance(value, list):
        texts = [as_text(v) for v in value]
        chosen = target is not None and (target.allowed is not None or target.type is ColType.BOOL)
        fields[f"{path}:value"] = texts if chosen else [", ".join(texts)]
    else:
        fields[f"{path}:value"] = [as_text(value)]
    return fields


def encode_node(node: object, path: str = "root") -> dict[str, list[str]]:
    """The form fields of a draft subtree (every node of it)."""
    fields: dict[str, list[str]] = {}
    for sub_path, sub in walk_draft(node, path):
        tag = node_tag(sub)
        if tag in (*GROUPS, NOT):
            fields[f"{sub_path}:node"] = [tag]
        elif tag == RAW:
            fields[f"{sub_path}:node"] = [RAW]
            fields[f"{sub_path}:raw"] = [json.dumps(sub, ensure_ascii=False)]
        else:
            assert isinstance(sub, dict)
            fields.update(encode_condition(sub, sub_path))
    return fields


def draft_to_form(draft: Mapping[str, Any]) -> dict[str, list[str]]:
    """The builder's form fields for a whole rule document."""
    return encode_node(draft.get("root"), "root")


# -- edits -----------------------------------------------------------------------------------


def _locate(root: object, steps: list[tuple[str, int | None]]) -> object:
    node = root
    for tag, index in steps:
        if node_tag(node) != tag:
            raise KeyError(tag)
        assert isinstance(node, dict)
        node = node[tag] if index is None else node[tag][index]
    return node


def _replace(draft: Draft, steps: list[tuple[str, int | None]], new: object) -> None:
    if not steps:
        draft["root"] = new
        return
    parent = _locate(draft["root"], steps[:-1])
    tag, index = steps[-1]
    assert isinstance(parent, dict)
    if index is None:
        parent[tag] = new
    else:
        parent[tag][index] = new


def _remove(draft: Draft, steps: list[tuple[str, int | None]]) -> None:
    if not steps:
        draft["root"] = {"all": []}
        return
    tag, index = steps[-1]
    if index is None:  # the child of a NOT goes with its NOT
        _remove(draft, steps[:-1])
        return
    parent = _locate(draft["root"], steps[:-1])
    assert isinstance(parent, dict)
    del parent[tag][index]


def apply_action(draft: Draft, action: str, form: FormData) -> Draft:
    """``draft`` after a builder button: ``add|group|remove|not|unnot|wrap:<path>[:arg]``.

    ``add:<group>`` appends a condition of the kind chosen in ``<group>:newkind``;
    ``group:<group>:all|any`` a sub-group; ``not`` wraps a node in NOT, ``unnot``
    unwraps it, ``wrap:<path>:all|any`` puts a node into a new group.
    """
    verb, _, rest = action.partition(":")
    path, _, arg = rest.partition(":")
    result = copy.deepcopy(draft)
    steps = parse_path(path)
    try:
        node = _locate(result["root"], steps)
        if verb == "add" and node_tag(node) in GROUPS:
            kind = _first(form, f"{path}:newkind") or arg
            if kind not in rules.CONDITIONS:
                raise InvalidInput(f"{path}: unknown condition kind {kind!r}")
            assert isinstance(node, dict)
            node[node_tag(node)].append(new_condition(kind))
        elif verb == "group" and node_tag(node) in GROUPS and arg in GROUPS:
            assert isinstance(node, dict)
            node[node_tag(node)].append({arg: []})
        elif verb == "remove":
            _remove(result, steps)
        elif verb == "not":
            _replace(result, steps, {NOT: node})
        elif verb == "unnot" and node_tag(node) == NOT:
            assert isinstance(node, dict)
            _replace(result, steps, node[NOT] if node[NOT] is not None else {"all": []})
        elif verb == "wrap" and arg in GROUPS:
            _replace(result, steps, {arg: [node]})
        else:
            raise InvalidInput(f"action: cannot {verb!r} the node at {path}")
    except (KeyError, IndexError):
        raise InvalidInput(
            f"action: no node at {path}", details=[{"field": "action", "path": path}]
        ) from None
    return result


# -- errors on nodes -------------------------------------------------------------------------


def owner_of(error_path: str, node_paths: Sequence[str]) -> tuple[str | None, str]:
    """The deepest node an error path points into, and the attribute after it (if any)."""
    best: str | None = None
    for path in node_paths:
        inside = error_path == path or error_path.startswith((path + ".", path + "["))
        if inside and (best is None or len(path) > len(best)):
            best = path
    if best is None:
        return None, ""
    rest = error_path[len(best) :].lstrip(".")
    return best, re.split(r"[.\[]", rest, maxsplit=1)[0]


def errors_by_node(
    details: Sequence[Mapping[str, object]], draft: Mapping[str, Any]
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """InvalidRule details grouped by node path (``[(attribute, message)]``), and the rest."""
    paths = [p for p, _ in walk_draft(draft.get("root"))]
    on_nodes: dict[str, list[tuple[str, str]]] = {}
    elsewhere: list[str] = []
    for detail in details:
        path, message = str(detail.get("path", "")), str(detail.get("message", ""))
        node, attr = owner_of(path, paths)
        if node is None:
            elsewhere.append(f"{path}: {message}" if path else message)
        else:
            on_nodes.setdefault(node, []).append((attr, message))
    return on_nodes, elsewhere


def draft_json(draft: Mapping[str, Any]) -> str:
    """The draft as the JSON tab shows it."""
    return json.dumps(draft, ensure_ascii=False, indent=2)


def draft_from_text(text: str) -> Draft:
    """A draft from the JSON tab (JSON or YAML); InvalidInput names what is wrong."""
    import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(
            f"rule_json: not valid JSON or YAML: {error}", details=[{"field": "rule_json"}]
        ) from None
    if not isinstance(data, dict) or "root" not in data:
        raise InvalidInput(
            'rule_json: a rule document is an object {"version": 1, "root": {...}}',
            details=[{"field": "rule_json"}],
        )
    return data
