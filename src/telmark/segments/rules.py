"""The segment rule document: a typed, versioned tree of conditions.

A document is ``{"version": 1, "root": <node>}``. A node is a group —
``{"all": [...]}``, ``{"any": [...]}``, ``{"not": <node>}`` — or a condition
with a ``kind`` (``field``, ``usage``, ``trend``, ``recharges``,
``has_product``, ``contract_ends_within_days``, ``tenure_months``, ``value``,
``churn``, ``household``, ``enterprise``, ``org_unit``, ``contacted``,
``segment``, ``uplift``).

Semantics fixed here so every backend (and the pandas check in the tests)
agrees:

* A condition on a missing value is false (``birth_year > 1990`` is false when
  the year is unknown), so ``not`` is always the exact complement.
* Windows are the N calendar months ending with the as-of month (the latest
  usage month unless given). Aggregates run over the usage rows present in the
  window; a line with no row there fails every aggregate condition.
* ``trend`` is the least-squares slope of the measure against the month
  number, in measure units per month (fen/month for ARPU); it needs at least
  two months of rows in the window.
* Day-based conditions (tenure, contract end, active products, contacts) are
  judged on the data date, the last day of the as-of month.
* ``contacted`` is true when the line has at least one ``contact_history`` row
  whose province-local date (Beijing time) lies in the last ``days`` days up
  to the data date (``[data date - days + 1, data date]``) and whose channel,
  case code and outcome are among those listed (a filter left out accepts
  any). A contact recorded without a case code never matches ``case_codes``.
  "Not contacted" is ``{"not": {"kind": "contacted", ...}}``.
* ``segment`` is membership of another saved segment: its rule (the given
  ``version``, else its current version when the rule is compiled) is inlined
  and judged on the same as-of month and the same org scope. References may
  nest at most ``MAX_REFERENCE_DEPTH`` deep and never lead back to a segment
  already on the way (a cycle), whatever the versions.
* ``uplift`` is true for the top ``top_pct`` percent of the province's scored
  lines by model ``model``'s predicted uplift (``uplift_scores``): rank r of n
  lines is in when ``r × 100 ≤ top_pct × n``. The share is of the whole
  province, also for a city user, so "top 20%" means the same lines to all.

Validation errors name the offending node by path, e.g.
``root.all[2].any[0].value: expected a date (YYYY-MM-DD)``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Strict,
    Tag,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic import Field as PydField

from telmark.errors import InvalidInput
from telmark.segments import fields as catalogue
from telmark.segments.checks import check_value, choice
from telmark.segments.fields import NUMERIC_OPS, Field, Op
from telmark.warehouse.contract import ColType

MAX_WINDOW_MONTHS = 24
MAX_CONTACT_DAYS = 730
MAX_REFERENCE_DEPTH = 5

_VALUE_SCHEMA = WithJsonSchema(
    {
        "description": (
            "A scalar for comparisons, a list for in/not_in, [low, high] for between, "
            "absent for is_null/not_null. Dates are ISO strings (YYYY-MM-DD)."
        ),
        "anyOf": [
            {"type": ["string", "number", "boolean", "null"]},
            {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
        ],
    }
)


Value = Annotated[Any, _VALUE_SCHEMA]


class InvalidRule(InvalidInput):
    """A segment rule document that does not validate; details carry each node path."""


def _kind_required(schema: dict[str, Any]) -> None:
    # ``kind`` has a default for the Python builder, but a document must state it.
    if "kind" in schema.get("properties", {}):
        schema["required"] = ["kind", *(r for r in schema.get("required", []) if r != "kind")]


class _Node(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra=_kind_required,
        # A left-out value is checked like an explicit null: `{"op": ">"}` alone is an error.
        validate_default=True,
    )


class Comparison(_Node):
    """A condition ``<target> <op> <value>``; subclasses say what the target is.

    Each subclass declares ``op`` and ``value`` after its target fields, because a
    field validator sees only the fields declared before it.
    """

    if TYPE_CHECKING:
        op: Op
        value: Any

    def target(self) -> Field:
        """What the condition compares; known once the node has validated."""
        found = self._target_of(dict(self))
        if found is None:  # validation rejects unknown targets, so this is a bug
            raise TypeError(f"{type(self).__name__} has no comparable target")
        return found

    @classmethod
    @abstractmethod
    def _target_of(cls, data: Mapping[str, Any]) -> Field | None:
        """The target named by (possibly not yet validated) field values ``data``."""

    @field_validator("op", check_fields=False)
    @classmethod
    def _op_allowed(cls, op: Op, info: ValidationInfo) -> Op:
        target = cls._target_of(info.data)
        if target is not None and op not in target.ops:
            allowed = ", ".join(sorted(o.value for o in target.ops))
            raise ValueError(f"operator {op.value!r} does not apply to {target.name}: {allowed}")
        return op

    @field_validator("value", check_fields=False)
    @classmethod
    def _value_typed(cls, value: object, info: ValidationInfo) -> object:
        target = cls._target_of(info.data)
        op = info.data.get("op")
        if target is None or op is None:
            return value  # the field or operator already failed; it is reported there
        return check_value(target, op, value)


def _measure(name: str, col_type: ColType = ColType.FLOAT) -> Field:
    return Field(name, "", col_type, name, name, NUMERIC_OPS)


class FieldCondition(Comparison):
    """A subscriber attribute compared with a value (``fields.SUBSCRIBER_FIELDS``)."""

    kind: Literal["field"] = "field"
    field: Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.SUBSCRIBER_FIELDS)})]
    op: Op
    value: Value = None
    catalogue_fields: ClassVar[dict[str, Field]] = catalogue.SUBSCRIBER_FIELDS

    @field_validator("field")
    @classmethod
    def _known(cls, value: str) -> str:
        return choice(cls.catalogue_fields, "field", value)

    @classmethod
    def _target_of(cls, data: Mapping[str, Any]) -> Field | None:
        name = data.get("field")
        return cls.catalogue_fields.get(name) if isinstance(name, str) else None


class ValueCondition(FieldCondition):
    """Value tier, RFM score, CLV or decayed value (table ``customer_value``)."""

    kind: Literal["value"] = "value"  # type: ignore[assignment]
    field: Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.VALUE_FIELDS)})]
    op: Op
    value: Value = None
    catalogue_fields: ClassVar[dict[str, Field]] = catalogue.VALUE_FIELDS


class ChurnCondition(FieldCondition):
    """Churn probability, risk decile or risk band (table ``churn_scores``)."""

    kind: Literal["churn"] = "churn"  # type: ignore[assignment]
    field: Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.CHURN_FIELDS)})]
    op: Op
    value: Value = None
    catalogue_fields: ClassVar[dict[str, Field]] = catalogue.CHURN_FIELDS


Months = Annotated[int, PydField(ge=1, le=MAX_WINDOW_MONTHS)]
MeasureName = Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.USAGE_MEASURES)})]


class UsageCondition(Comparison):
    """``agg`` of a usage measure over the last ``months`` months, compared with a value."""

    kind: Literal["usage"] = "usage"
    measure: MeasureName
    agg: Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.AGGREGATES)})]
    months: Months
    op: Op
    value: Value = None

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        return choice(catalogue.USAGE_MEASURES, "measure", value)

    @field_validator("agg")
    @classmethod
    def _known_agg(cls, value: str) -> str:
        return choice(catalogue.AGGREGATES, "aggregate", value)

    @classmethod
    def _target_of(cls, data: Mapping[str, Any]) -> Field | None:
        return _measure(f"{data.get('agg')}({data.get('measure')})")


class TrendCondition(Comparison):
    """Least-squares slope of a usage measure per month over the last ``months`` months."""

    kind: Literal["trend"] = "trend"
    measure: MeasureName
    months: Annotated[int, PydField(ge=2, le=MAX_WINDOW_MONTHS)]
    op: Op
    value: Value = None

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        return choice(catalogue.USAGE_MEASURES, "measure", value)

    @classmethod
    def _target_of(cls, data: Mapping[str, Any]) -> Field | None:
        return _measure(f"trend({data.get('measure')})")


class RechargeCondition(Comparison):
    """Number or amount (fen) of recharges in the last ``months`` months."""

    kind: Literal["recharges"] = "recharges"
    stat: Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.RECHARGE_STATS)})]
    months: Months
    op: Op
    value: Value = None

    @field_validator("stat")
    @classmethod
    def _known_stat(cls, value: str) -> str:
        return choice(catalogue.RECHARGE_STATS, "recharge statistic", value)

    @classmethod
    def _target_of(cls, data: Mapping[str, Any]) -> Field | None:
        return _measure(f"recharges.{data.get('stat')}", ColType.INT)


class TenureCondition(Comparison):
    """Whole calendar months from the join month to the as-of month."""

    kind: Literal["tenure_months"] = "tenure_months"
    op: Op
    value: Value = None

    @classmethod
    def _target_of(cls, data: Mapping[str, Any]) -> Field | None:  # noqa: ARG003 - fixed target
        return _measure("tenure_months", ColType.INT)


class HasProductCondition(_Node):
    """An active subscription (on the data date) of a product, or of a family and/or kind."""

    kind: Literal["has_product"] = "has_product"
    product_id: str | None = None
    family: Annotated[
        str | None, PydField(json_schema_extra={"enum": list(catalogue.PRODUCT_FAMILY_VALUES)})
    ] = None
    product_kind: Annotated[
        str | None, PydField(json_schema_extra={"enum": list(catalogue.PRODUCT_KIND_VALUES)})
    ] = None

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str | None) -> str | None:
        return None if value is None else choice(catalogue.PRODUCT_FAMILY_VALUES, "family", value)

    @field_validator("product_kind")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return choice(catalogue.PRODUCT_KIND_VALUES, "product kind", value)

    @model_validator(mode="after")
    def _something(self) -> HasProductCondition:
        if self.product_id is None and self.family is None and self.product_kind is None:
            raise ValueError("has_product needs product_id, family or product_kind")
        return self


class ContractEndsCondition(_Node):
    """The contract ends between the data date and ``days`` days after it."""

    kind: Literal["contract_ends_within_days"] = "contract_ends_within_days"
    days: Annotated[int, PydField(ge=0, le=3660)]


class HouseholdCondition(_Node):
    """Household membership, or a feature of the line's household."""

    kind: Literal["household"] = "household"
    has: Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.HOUSEHOLD_FEATURES)})]

    @field_validator("has")
    @classmethod
    def _known(cls, value: str) -> str:
        return choice(catalogue.HOUSEHOLD_FEATURES, "household feature", value)


class EnterpriseCondition(_Node):
    """A member line of an enterprise account (of the given tiers/industries, if any)."""

    kind: Literal["enterprise"] = "enterprise"
    tiers: list[str] | None = PydField(default=None, min_length=1)
    industries: list[str] | None = PydField(default=None, min_length=1)

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: list[str] | None) -> list[str] | None:
        for tier in value or []:
            choice(catalogue.ENTERPRISE_TIERS, "account tier", tier)
        return value

    @field_validator("industries")
    @classmethod
    def _known_industries(cls, value: list[str] | None) -> list[str] | None:
        for industry in value or []:
            choice(catalogue.ENTERPRISE_INDUSTRIES, "industry", industry)
        return value


class OrgUnitCondition(_Node):
    """The home outlet is one of ``org_ids`` or below one of them."""

    kind: Literal["org_unit"] = "org_unit"
    org_ids: list[Annotated[str, PydField(min_length=1)]] = PydField(min_length=1)


class ContactedCondition(_Node):
    """At least one contact in the last ``days`` days matching every filter given."""

    kind: Literal["contacted"] = "contacted"
    days: Annotated[int, PydField(ge=1, le=MAX_CONTACT_DAYS)]
    channels: (
        list[Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.CONTACT_CHANNELS)})]]
        | None
    ) = PydField(default=None, min_length=1)
    case_codes: list[Annotated[str, PydField(min_length=1, max_length=200)]] | None = PydField(
        default=None, min_length=1
    )
    outcomes: (
        list[Annotated[str, PydField(json_schema_extra={"enum": list(catalogue.CONTACT_OUTCOMES)})]]
        | None
    ) = PydField(default=None, min_length=1)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str] | None) -> list[str] | None:
        for channel in value or []:
            choice(catalogue.CONTACT_CHANNELS, "channel", channel)
        return value

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, value: list[str] | None) -> list[str] | None:
        for outcome in value or []:
            choice(catalogue.CONTACT_OUTCOMES, "outcome", outcome)
        return value


SegmentId = Annotated[int, Strict(), PydField(ge=1)]


class SegmentCondition(_Node):
    """Member of another saved segment (its ``version``, else its current one when compiled)."""

    kind: Literal["segment"] = "segment"
    segment_id: SegmentId
    version: SegmentId | None = None


class UpliftCondition(_Node):
    """In the top ``top_pct`` percent of lines by predicted uplift of model ``model``."""

    kind: Literal["uplift"] = "uplift"
    model: Annotated[int, Strict(), PydField(ge=1)]
    top_pct: Annotated[int, Strict(), PydField(ge=1, le=100)]


class AllGroup(_Node):
    all: list[Node] = PydField(min_length=1)


class AnyGroup(_Node):
    any: list[Node] = PydField(min_length=1)


class NotGroup(_Node):
    not_: Node = PydField(alias="not")


GROUP_TAGS = ("all", "any", "not")
CONDITIONS: dict[str, type[_Node]] = {
    "field": FieldCondition,
    "usage": UsageCondition,
    "trend": TrendCondition,
    "recharges": RechargeCondition,
    "has_product": HasProductCondition,
    "contract_ends_within_days": ContractEndsCondition,
    "tenure_months": TenureCondition,
    "value": ValueCondition,
    "churn": ChurnCondition,
    "household": HouseholdCondition,
    "enterprise": EnterpriseCondition,
    "org_unit": OrgUnitCondition,
    "contacted": ContactedCondition,
    "segment": SegmentCondition,
    "uplift": UpliftCondition,
}
NODE_TAGS = frozenset(GROUP_TAGS) | frozenset(CONDITIONS)


def _node_tag(value: Any) -> str | None:
    if isinstance(value, AllGroup | AnyGroup | NotGroup):
        return GROUP_TAGS[(AllGroup, AnyGroup, NotGroup).index(type(value))]
    if isinstance(value, _Node):
        return str(getattr(value, "kind", ""))
    if isinstance(value, dict):
        groups = [g for g in GROUP_TAGS if g in value]
        if len(groups) == 1:
            return groups[0]
        kind = value.get("kind")
        return kind if isinstance(kind, str) and kind in CONDITIONS else None
    return None


Condition = (
    FieldCondition
    | UsageCondition
    | TrendCondition
    | RechargeCondition
    | HasProductCondition
    | ContractEndsCondition
    | TenureCondition
    | ValueCondition
    | ChurnCondition
    | HouseholdCondition
    | EnterpriseCondition
    | OrgUnitCondition
    | ContactedCondition
    | SegmentCondition
    | UpliftCondition
)

Node = Annotated[
    Annotated[AllGroup, Tag("all")]
    | Annotated[AnyGroup, Tag("any")]
    | Annotated[NotGroup, Tag("not")]
    | Annotated[FieldCondition, Tag("field")]
    | Annotated[UsageCondition, Tag("usage")]
    | Annotated[TrendCondition, Tag("trend")]
    | Annotated[RechargeCondition, Tag("recharges")]
    | Annotated[HasProductCondition, Tag("has_product")]
    | Annotated[ContractEndsCondition, Tag("contract_ends_within_days")]
    | Annotated[TenureCondition, Tag("tenure_months")]
    | Annotated[ValueCondition, Tag("value")]
    | Annotated[ChurnCondition, Tag("churn")]
    | Annotated[HouseholdCondition, Tag("household")]
    | Annotated[EnterpriseCondition, Tag("enterprise")]
    | Annotated[OrgUnitCondition, Tag("org_unit")]
    | Annotated[ContactedCondition, Tag("contacted")]
    | Annotated[SegmentCondition, Tag("segment")]
    | Annotated[UpliftCondition, Tag("uplift")],
    Discriminator(
        _node_tag,
        custom_error_type="invalid_node",
        custom_error_message=(
            "not a rule node: expected exactly one of all/any/not, or a kind among "
            + ", ".join(CONDITIONS)
        ),
    ),
]

AllGroup.model_rebuild()
AnyGroup.model_rebuild()
NotGroup.model_rebuild()


class RuleDocument(_Node):
    """A whole segment rule: the format version and the root node."""

    version: Literal[1]
    root: Node


def node_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a node path: ``root.all[2].any[0].value``."""
    path = ""
    expect_tag = False
    previous: int | str | None = None
    for item in loc:
        if expect_tag and isinstance(item, str) and item in NODE_TAGS:
            expect_tag = False
            previous = item
            continue
        if isinstance(item, int):
            path += f"[{item}]"
            expect_tag = previous in ("all", "any")
        else:
            path += f".{item}" if path else item
            expect_tag = item in ("root", "not")
        previous = item
    return path or "document"


def parse_rule(data: object) -> RuleDocument:
    """Validate a rule document (parsed JSON/YAML); InvalidRule names every bad node."""
    try:
        return RuleDocument.model_validate(data)
    except ValidationError as error:
        details: list[dict[str, object]] = []
        for problem in error.errors(include_url=False):
            message = str(problem["msg"]).removeprefix("Value error, ")
            details.append({"path": node_path(tuple(problem["loc"])), "message": message})
        first = details[0]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise InvalidRule(
            f"invalid segment rule: {first['path']}: {first['message']}{more}", details=details
        ) from None


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema of a rule document (draft 2020-12, as pydantic writes it)."""
    schema = RuleDocument.model_json_schema(by_alias=True)
    schema["title"] = "telmark segment rule"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def parse_rule_text(text: str, *, source: str = "rule") -> RuleDocument:
    """A rule from JSON or YAML text (YAML is a superset of JSON); ``source`` names it in errors."""
    import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidRule(f"{source}: not valid JSON or YAML: {error}") from None
    try:
        return parse_rule(data)
    except InvalidRule as error:
        raise InvalidRule(f"{source}: {error.message}", details=error.details) from None
