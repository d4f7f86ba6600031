"""API shapes of offers: the offer document, read models of offers, pools, redemptions
and draws, and ``parse_offer`` (field-path errors for files and request bodies)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from telmark.errors import InvalidInput
from telmark.offers.domain import (
    EntryKind,
    OfferStatus,
    PoolKind,
    ProductAction,
    RedemptionStatus,
)
from telmark.offers.tools import BP, Code, Tool

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_TOOLS = 9


class OfferEconomicsIn(BaseModel):
    """Assumptions behind an offer's unit economics (per taker)."""

    model_config = ConfigDict(extra="forbid")

    incremental_monthly_revenue_fen: Annotated[int, Field(ge=0, le=100_000_000, strict=True)]
    channel_cost_share_bp: Annotated[int, Field(ge=0, le=BP, strict=True)] = 0
    co_funding_bp: Annotated[int, Field(ge=0, le=BP, strict=True)] = 0


class OfferCreate(BaseModel):
    """A new offer (created as a draft): product action, targets, incentive, economics."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""
    action: ProductAction
    product_codes: list[Code] = Field(min_length=1, max_length=20)
    valid_from: date
    valid_to: date | None = None
    eligibility: dict[str, Any] | None = Field(
        default=None, description="A segment rule document (telmark segments schema)."
    )
    excludes: list[Code] = Field(default_factory=list, max_length=50)
    tools: list[Tool] = Field(min_length=1, max_length=MAX_TOOLS)
    economics: OfferEconomicsIn

    @model_validator(mode="after")
    def _consistent(self) -> OfferCreate:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to: must not be before valid_from")
        kinds = [t.tool for t in self.tools]
        if len(set(kinds)) != len(kinds):
            raise ValueError("tools: each tool may appear once per offer")
        if self.code in self.excludes:
            raise ValueError("excludes: an offer cannot exclude itself")
        if len(set(self.product_codes)) != len(self.product_codes):
            raise ValueError("product_codes: listed twice")
        return self


def error_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a field path: ``tools[2].prizes[0].odds_ppm``.

    The discriminator tag pydantic inserts after a list index (``tools.2.gift``)
    is dropped: the index already names the tool.
    """
    path = ""
    after_tools_index = False
    for item in loc:
        if isinstance(item, int):
            path += f"[{item}]"
            after_tools_index = path.endswith(f"tools[{item}]")
            continue
        if after_tools_index:
            after_tools_index = False
            if item in TOOL_TAGS:
                continue
        path += f".{item}" if path else str(item)
    return path or "offer"


TOOL_TAGS = frozenset(
    {
        "gift",
        "points",
        "subsidy",
        "red_packet",
        "membership",
        "leverage",
        "lottery",
        "bundle",
        "referral",
    }
)


def parse_offer(data: object, *, source: str = "offer") -> OfferCreate:
    """Validate an offer document; InvalidInput names every bad field by path."""
    try:
        return OfferCreate.model_validate(data)
    except ValidationError as error:
        details: list[dict[str, object]] = []
        for problem in error.errors(include_url=False):
            message = str(problem["msg"]).removeprefix("Value error, ")
            details.append({"field": error_path(tuple(problem["loc"])), "message": message})
        first = details[0]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise InvalidInput(
            f"{source}: {first['field']}: {first['message']}{more}", details=details
        ) from None


class EconomicsRead(BaseModel):
    incentive_cost_fen: int
    partner_funded_fen: int
    net_incentive_cost_fen: int
    incremental_monthly_revenue_fen: int
    channel_cost_fen_per_month: int
    net_monthly_contribution_fen: int
    payback_months: int | None


class ToolCost(BaseModel):
    tool: str
    expected_cost_fen: int


class OfferRead(BaseModel):
    """An offer with its current terms and their economics."""

    code: str
    status: OfferStatus
    version: int
    name: str
    description: str
    action: ProductAction
    product_codes: list[str]
    valid_from: date
    valid_to: date | None
    eligibility: dict[str, Any] | None
    excludes: list[str]
    tools: list[dict[str, Any]]
    tool_costs: list[ToolCost]
    economics_in: OfferEconomicsIn
    economics: EconomicsRead
    created_by: str
    created_at: datetime
    updated_at: datetime


class PoolRead(BaseModel):
    """A stock (items) or budget (fen) pool: how much there was and how much is left."""

    model_config = ConfigDict(from_attributes=True)

    key: str
    kind: PoolKind
    total: int
    remaining: int
    reserved: int
    consumed: int


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pool_key: str
    kind: EntryKind
    quantity: int
    reason: str


class DrawRead(BaseModel):
    id: int
    redemption_id: int
    offer_code: str
    offer_version: int
    algorithm: str
    seed: str
    picked: str
    stock_granted: bool
    outcome: str
    prize_table: dict[str, Any]
    created_at: datetime


class RedemptionRead(BaseModel):
    id: int
    offer_code: str
    offer_version: int
    subscriber_id: int
    org_id: str
    idempotency_key: str
    referrer_id: int | None
    referrer_rewarded: bool | None
    status: RedemptionStatus
    created_by: str
    created_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    entries: list[EntryRead]
    draw: DrawRead | None
    # False when the idempotency key had already been used: this is the earlier result.
    created: bool = True


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriber_id: Annotated[int, Field(ge=1)]
    referrer_id: Annotated[
        int | None, Field(ge=1, description="Referral offers: who referred.")
    ] = None


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ReplayRead(BaseModel):
    """A draw recomputed from its seed and prize table, and whether it matches the record."""

    draw_id: int
    seed: str
    algorithm: str
    recorded_picked: str
    recorded_outcome: str
    picked: str
    outcome: str
    matches: bool
