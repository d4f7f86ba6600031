"""JSON routes of market inputs: offers, shares, imports and the market view of a city."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput, NotFound
from telmark.market import service
from telmark.market.domain import Competitor
from telmark.market.schemas import (
    ImportReport,
    MarketView,
    OfferCreate,
    OfferRead,
    ShareCreate,
    ShareRead,
)
from telmark.web.deps import UowDep

router = APIRouter(prefix="/api/market", tags=["market"])

READ = [require(Action.OVERVIEW_READ)]
MANAGE = [require(Action.MARKET_MANAGE)]
MAX_UPLOAD_BYTES = 16 << 20  # market files are a few hundred rows; larger ones via the CLI

CityQuery = Annotated[
    str | None, Query(description="City code (C01); default: every city you may read.")
]


def read_upload(file: UploadFile) -> bytes:
    """The uploaded file's bytes, refusing files above ``MAX_UPLOAD_BYTES``."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_UPLOAD_BYTES >> 20} MB; "
            "use `telmark market` on the server"
        )
    return data


@router.get("/offers", response_model=list[OfferRead], dependencies=READ)
def list_offers(
    uow: UowDep,
    city: CityQuery = None,
    competitor: Competitor | None = None,
    on_sale: Annotated[date | None, Query(description="Only offers on sale that day.")] = None,
) -> list[OfferRead]:
    """Competitor offers you may read (a city's include the province-wide ones)."""
    return service.list_offers(uow=uow, city=city, competitor=competitor, on_sale=on_sale)


@router.post(
    "/offers", response_model=OfferRead, status_code=status.HTTP_201_CREATED, dependencies=MANAGE
)
def add_offer(body: OfferCreate, uow: UowDep) -> OfferRead:
    """Record a competitor offer of a city within your scope (or province-wide)."""
    return service.add_offer(uow=uow, offer=body)


@router.post("/offers/import", response_model=ImportReport, dependencies=MANAGE)
def import_offers(
    uow: UowDep,
    file: Annotated[UploadFile, File(description="CSV with the offer columns (see the docs).")],
    encoding: Annotated[str, Form(description="auto, utf-8, gbk or gb18030")] = "auto",
) -> ImportReport:
    """Import offers from CSV: every row checked first; a bad row imports nothing."""
    return service.import_offers(
        uow=uow, data=read_upload(file), file_name=file.filename or "offers.csv", encoding=encoding
    )


@router.get("/offers/{offer_id}", response_model=OfferRead, dependencies=READ)
def get_offer(offer_id: int, uow: UowDep) -> OfferRead:
    """One offer."""
    return service.get_offer(uow=uow, offer_id=offer_id)


@router.delete("/offers/{offer_id}", response_model=OfferRead, dependencies=MANAGE)
def delete_offer(offer_id: int, uow: UowDep) -> OfferRead:
    """Delete an offer of your scope (the audit trail keeps its values)."""
    return service.delete_offer(uow=uow, offer_id=offer_id)


@router.get("/shares", response_model=list[ShareRead], dependencies=READ)
def list_shares(
    uow: UowDep,
    city: CityQuery = None,
    month_from: Annotated[date | None, Query(description="First month (any day of it).")] = None,
    month_to: Annotated[date | None, Query(description="Last month (its first day).")] = None,
) -> list[ShareRead]:
    """Market-share entries you may read."""
    return service.list_shares(uow=uow, city=city, month_from=month_from, month_to=month_to)


@router.post(
    "/shares", response_model=ShareRead, status_code=status.HTTP_201_CREATED, dependencies=MANAGE
)
def add_share(body: ShareCreate, uow: UowDep) -> ShareRead:
    """Record a competitor's share (or subscriber estimate); a city-month may not pass 100%."""
    return service.add_share(uow=uow, share=body)


@router.post("/shares/import", response_model=ImportReport, dependencies=MANAGE)
def import_shares(
    uow: UowDep,
    file: Annotated[UploadFile, File(description="CSV: org_code,month,competitor,share_bp|...")],
    encoding: Annotated[str, Form(description="auto, utf-8, gbk or gb18030")] = "auto",
) -> ImportReport:
    """Import shares from CSV: rows and every city-month's 100% rule checked; all or none."""
    return service.import_shares(
        uow=uow, data=read_upload(file), file_name=file.filename or "shares.csv", encoding=encoding
    )


@router.get("/shares/{share_id}", response_model=ShareRead, dependencies=READ)
def get_share(share_id: int, uow: UowDep) -> ShareRead:
    """One share entry."""
    return service.get_share(uow=uow, share_id=share_id)


@router.delete("/shares/{share_id}", response_model=ShareRead, dependencies=MANAGE)
def delete_share(share_id: int, uow: UowDep) -> ShareRead:
    """Delete a share entry of your scope."""
    return service.delete_share(uow=uow, share_id=share_id)


@router.get("/view", response_model=MarketView, dependencies=READ)
def market_view(
    uow: UowDep,
    con: ScopedWarehouseDep,
    city: CityQuery = None,
    as_of: Annotated[
        date | None, Query(description="Offers on sale that day (default today).")
    ] = None,
) -> MarketView:
    """A city's share trend, offers beside our nearest plans, and own KPIs (the /market page)."""
    code = city or service.default_city(uow=uow)
    if code is None:
        raise NotFound("no city to show: the org tree has none in your scope")
    return service.market_view(uow=uow, con=con, city=code, as_of=as_of)
