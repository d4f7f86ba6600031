"""JSON route of the eligibility explainer: which offers one subscriber may take, and why not.

Explaining is front-line work done for a customer, so it needs customer:read, and
the subscriber must be in the caller's scope (else 404, as for a line that does not
exist). The subscriber travels in a POST body, so a mobile number never appears in
a URL or an access log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from telmark.auth.deps import CurrentPrincipal, ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.offers.eligibility import service
from telmark.offers.eligibility.schemas import EligibilityIn, EligibilityRead
from telmark.privacy.service import may_unmask
from telmark.web.deps import UowDep
from telmark.web.errors import ErrorRead

router = APIRouter(tags=["offers"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorRead, "description": "No such subscriber in your scope."},
    409: {"model": ErrorRead, "description": "No data loaded yet (warehouse_empty)."},
    422: {"model": ErrorRead, "description": "Not a mobile number or id: details name the field."},
}


@router.post(
    "/api/offers/eligibility",
    response_model=EligibilityRead,
    dependencies=[require(Action.CUSTOMER_READ)],
    responses=ERRORS,
)
def explain(
    body: EligibilityIn, uow: UowDep, con: ScopedWarehouseDep, principal: CurrentPrincipal
) -> EligibilityRead:
    """Every offer on sale judged for one subscriber: eligible first, then why not, each."""
    return service.explain(
        uow=uow,
        con=con,
        msisdn=body.msisdn,
        subscriber_id=body.subscriber_id,
        include_all=body.include_all,
        unmask=body.unmask and may_unmask(principal),
        today=body.on,
    )
