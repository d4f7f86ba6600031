"""API shapes of the eligibility explainer: the request (one subscriber) and the answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from telmark.offers.domain import OfferStatus, ProductAction
from telmark.offers.eligibility.domain import ReasonCode


class EligibilityIn(BaseModel):
    """Whom to explain: one subscriber by mobile number or by id (not both).

    A POST body rather than a query string, so the number never lands in URLs and logs.
    """

    model_config = ConfigDict(extra="forbid")

    msisdn: str | None = Field(default=None, description="The full 11-digit mobile number.")
    subscriber_id: int | None = Field(default=None, ge=1)
    include_all: bool = Field(
        default=False, description="Also list draft and retired offers (with why they are out)."
    )
    on: date | None = Field(default=None, description="The day to judge (default: today).")
    unmask: bool = Field(
        default=False,
        description="The mobile number in clear; honoured only if your roles may unmask "
        "(then recorded in the audit trail).",
    )


class ReasonRead(BaseModel):
    """Why an offer is excluded: a stable code, the English message and what fills it.

    ``template`` is the message before filling (the msgid a client translates);
    ``condition`` is the failed eligibility-rule node for ``segment_rule``.
    """

    code: ReasonCode
    message: str
    template: str
    params: dict[str, Any]
    condition: dict[str, Any] | None = None


class OfferEligibilityRead(BaseModel):
    code: str
    name: str
    status: OfferStatus
    action: ProductAction
    product_codes: list[str]
    valid_from: date
    valid_to: date | None
    eligible: bool
    reasons: list[ReasonRead]


class HoldingRead(BaseModel):
    product_code: str
    kind: str | None
    start_date: date
    lock_in_until: date | None


class LineRead(BaseModel):
    """The subscriber as judged; ``msisdn`` masked unless ``masked`` is false."""

    subscriber_id: int
    msisdn: str
    masked: bool
    status: str
    payment_type: str
    plan_code: str
    plan_kind: str | None
    plan_fee_fen: int | None
    contract_end: date | None
    lock_in_until: date | None
    holdings: list[HoldingRead]
    held_offers: list[str]


class EligibilityRead(BaseModel):
    """Every offer judged for one line on ``on``: eligible ones first, then the excluded."""

    on: date
    rule_as_of: date | None = Field(
        description="The month eligibility rules were judged on (the latest usage month)."
    )
    line: LineRead
    offers: list[OfferEligibilityRead]
