"""JSON routes of customer 360: look a subscriber up, read their 360 view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.customers import service
from telmark.customers.domain import parse_lookup
from telmark.customers.schemas import Customer360, CustomerSearch
from telmark.privacy.service import may_unmask
from telmark.web.deps import UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(
    prefix="/api/customers", tags=["customers"], dependencies=[require(Action.CUSTOMER_READ)]
)

UnmaskQuery = Annotated[
    bool,
    Query(
        description="Personal values in clear; honoured only if your roles may unmask, "
        "and then recorded in the audit trail."
    ),
]


@router.get(
    "",
    response_model=CustomerSearch,
    responses={422: {"model": ErrorRead, "description": "Not a mobile number or id."}},
)
def search(
    con: ScopedWarehouseDep,
    uow: UowDep,
    principal: CurrentPrincipal,
    msisdn: Annotated[
        str | None,
        Query(description="The full mobile number (exact); the search is audited."),
    ] = None,
    subscriber_id: Annotated[str | None, Query(description="The subscriber id.")] = None,
    unmask: UnmaskQuery = False,
) -> CustomerSearch:
    """Subscribers in your scope with this mobile number or id (none if neither is given)."""
    lookup = parse_lookup(subscriber_id=subscriber_id, msisdn=msisdn)
    return service.find_customers(
        con=con, uow=uow, lookup=lookup, unmask=unmask and may_unmask(principal)
    )


@router.get(
    "/{subscriber_id}",
    response_model=Customer360,
    responses={
        404: {"model": ErrorRead, "description": "No such subscriber in your scope."},
        409: {"model": ErrorRead, "description": "No data loaded yet (warehouse_empty)."},
    },
)
def show(
    subscriber_id: int,
    con: ScopedWarehouseDep,
    uow: UowDep,
    principal: CurrentPrincipal,
    unmask: UnmaskQuery = False,
) -> Customer360:
    """One subscriber's 360 view: identity, plan, products, usage, value, churn risk, history."""
    return service.customer_360(
        con=con, uow=uow, subscriber_id=subscriber_id, unmask=unmask and may_unmask(principal)
    )
