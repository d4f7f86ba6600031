"""JSON routes of the offer book: offers, versions, economics, pools, redemptions and draws.

Reading the offer book needs overview:read; changing it needs offers:manage
(at the province). Redeeming is front-line work done for a customer, so it
needs customer:read and the subscriber must be in the caller's scope; the
same holds for reading, consuming or releasing a redemption and its draw.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.offers import service
from telmark.offers.domain import OfferStatus
from telmark.offers.schemas import (
    DrawRead,
    EconomicsRead,
    OfferCreate,
    OfferRead,
    PoolRead,
    RedeemIn,
    RedemptionRead,
    ReleaseIn,
    ReplayRead,
)
from telmark.web.deps import UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(tags=["offers"])

READ = [require(Action.OVERVIEW_READ)]
CHANGE = [require(Action.OFFER_MANAGE)]
REDEEM = [require(Action.CUSTOMER_READ)]

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such offer."}
}
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorRead, "description": "Invalid offer: details name the fields."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorRead, "description": "Not allowed in the offer's current status."}
}
REDEEM_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such offer, or no such subscriber in scope."},
    409: {
        "model": ErrorRead,
        "description": "Not on sale, out of stock/budget, excluded, already held, or key reused.",
    },
}

# Redemptions and draws live under their own prefixes: they belong to a subscriber's
# home unit (org-scoped), while everything under /api/offers is the province-wide book.


@router.post(
    "/api/offers/economics", response_model=EconomicsRead, dependencies=READ, responses=INVALID
)
def preview_economics(body: OfferCreate) -> EconomicsRead:
    """Per-taker unit economics of an offer document, without saving it."""
    return service.economics_of(body)


@router.get(
    "/api/draws/{draw_id}",
    response_model=DrawRead,
    dependencies=REDEEM,
    responses={404: {"model": ErrorRead, "description": "No such draw in your scope."}},
)
def get_draw(draw_id: int, uow: UowDep) -> DrawRead:
    """A recorded lottery draw: seed, algorithm, prize table, pick and outcome."""
    return service.get_draw(uow=uow, draw_id=draw_id)


@router.get(
    "/api/draws/{draw_id}/replay",
    response_model=ReplayRead,
    dependencies=REDEEM,
    responses={404: {"model": ErrorRead, "description": "No such draw in your scope."}},
)
def replay_draw(draw_id: int, uow: UowDep) -> ReplayRead:
    """Recompute a draw from its recorded seed; ``matches`` says it agrees with the record."""
    return service.replay_draw(uow=uow, draw_id=draw_id)


@router.get(
    "/api/redemptions/{redemption_id}",
    response_model=RedemptionRead,
    dependencies=REDEEM,
    responses={404: {"model": ErrorRead, "description": "No such redemption in your scope."}},
)
def get_redemption(redemption_id: int, uow: UowDep) -> RedemptionRead:
    """One redemption with its ledger entries and draw."""
    return service.get_redemption(uow=uow, redemption_id=redemption_id)


@router.post(
    "/api/redemptions/{redemption_id}/consume",
    response_model=RedemptionRead,
    dependencies=REDEEM,
    responses={**CONFLICT, 404: {"model": ErrorRead, "description": "Not in your scope."}},
)
def consume_redemption(redemption_id: int, uow: UowDep) -> RedemptionRead:
    """The incentive was delivered: the reservation becomes final."""
    return service.consume_redemption(uow=uow, redemption_id=redemption_id)


@router.post(
    "/api/redemptions/{redemption_id}/release",
    response_model=RedemptionRead,
    dependencies=REDEEM,
    responses={**CONFLICT, 404: {"model": ErrorRead, "description": "Not in your scope."}},
)
def release_redemption(redemption_id: int, body: ReleaseIn, uow: UowDep) -> RedemptionRead:
    """Give a reservation back (with the reason): its stock and budget return to the pools."""
    return service.release_redemption(uow=uow, redemption_id=redemption_id, reason=body.reason)


@router.get("/api/offers", response_model=list[OfferRead], dependencies=READ)
def list_offers(uow: UowDep, status: OfferStatus | None = None) -> list[OfferRead]:
    """The province's offer book, by code."""
    return service.list_offers(uow=uow, status=status)


@router.post(
    "/api/offers",
    response_model=OfferRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=CHANGE,
    responses={**INVALID, 409: {"model": ErrorRead, "description": "Code already used."}},
)
def create_offer(body: OfferCreate, uow: UowDep) -> OfferRead:
    """Save a new offer as a draft (products, exclusions and eligibility rule checked)."""
    return service.create_offer(uow=uow, spec=body)


@router.get("/api/offers/{code}", response_model=OfferRead, dependencies=READ, responses=NOT_FOUND)
def get_offer(code: str, uow: UowDep) -> OfferRead:
    """One offer with its current terms, each tool's expected cost and the economics."""
    return service.get_offer(uow=uow, code=code)


@router.put(
    "/api/offers/{code}",
    response_model=OfferRead,
    dependencies=CHANGE,
    responses={**NOT_FOUND, **INVALID, **CONFLICT},
)
def update_offer(code: str, body: OfferCreate, uow: UowDep) -> OfferRead:
    """Save the next version of a draft offer (active and retired offers are fixed)."""
    return service.update_offer(uow=uow, code=code, spec=body)


@router.get(
    "/api/offers/{code}/versions",
    response_model=list[OfferRead],
    dependencies=READ,
    responses=NOT_FOUND,
)
def list_versions(code: str, uow: UowDep) -> list[OfferRead]:
    """Every version of the offer's terms, oldest first."""
    return service.list_versions(uow=uow, code=code)


@router.get(
    "/api/offers/{code}/economics",
    response_model=EconomicsRead,
    dependencies=READ,
    responses=NOT_FOUND,
)
def offer_economics(code: str, uow: UowDep) -> EconomicsRead:
    """Per-taker unit economics of the offer's current terms."""
    return service.offer_economics(uow=uow, code=code)


@router.post(
    "/api/offers/{code}/activate",
    response_model=OfferRead,
    dependencies=CHANGE,
    responses={**NOT_FOUND, **CONFLICT},
)
def activate_offer(code: str, uow: UowDep) -> OfferRead:
    """Put a draft on sale; its stock and budget pools are created full."""
    return service.activate_offer(uow=uow, code=code)


@router.post(
    "/api/offers/{code}/retire",
    response_model=OfferRead,
    dependencies=CHANGE,
    responses={**NOT_FOUND, **CONFLICT},
)
def retire_offer(code: str, uow: UowDep) -> OfferRead:
    """Take the offer off sale for good."""
    return service.retire_offer(uow=uow, code=code)


@router.get(
    "/api/offers/{code}/pools",
    response_model=list[PoolRead],
    dependencies=READ,
    responses=NOT_FOUND,
)
def list_pools(code: str, uow: UowDep) -> list[PoolRead]:
    """Stock and budget pools: total, remaining, reserved and consumed."""
    return service.list_pools(uow=uow, code=code)


@router.post(
    "/api/offers/{code}/redeem",
    response_model=RedemptionRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=REDEEM,
    responses={
        **REDEEM_ERRORS,
        200: {"model": RedemptionRead, "description": "The key was used before: that result."},
    },
)
def redeem(
    code: str,
    body: RedeemIn,
    uow: UowDep,
    con: ScopedWarehouseDep,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            description="Resending the same key returns the same redemption, not a second one.",
        ),
    ],
) -> RedemptionRead:
    """A subscriber in your scope takes the offer: stock/budget reserved, a lottery drawn."""
    result = service.redeem(
        uow=uow,
        con=con,
        code=code,
        subscriber_id=body.subscriber_id,
        idempotency_key=idempotency_key,
        referrer_id=body.referrer_id,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result
