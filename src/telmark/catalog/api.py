"""JSON routes of the product catalog: products, versions, retirement, prices on a day."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.permissions import Action
from telmark.catalog import service
from telmark.catalog.domain import ProductKind, ProductStatus
from telmark.catalog.schemas import (
    OrderPrice,
    PriceRead,
    ProductCreate,
    ProductRead,
    SyncReport,
    VersionCreate,
)
from telmark.web.deps import UowDep

router = APIRouter(prefix="/api/catalog", tags=["catalog"])

READ = [require(Action.OVERVIEW_READ)]
MANAGE = [require(Action.CATALOG_MANAGE)]

OnQuery = Annotated[
    date | None, Query(description="Show the version in force that day (default today).")
]


@router.get("/products", response_model=list[ProductRead], dependencies=READ)
def list_products(
    uow: UowDep,
    kind: ProductKind | None = None,
    family: Annotated[str | None, Query(description="A contract product family.")] = None,
    status: ProductStatus | None = None,
    on: OnQuery = None,
) -> list[ProductRead]:
    """Catalog products (province-wide), with their versions."""
    return service.list_products(uow=uow, kind=kind, family=family, status=status, on=on)


@router.post(
    "/products",
    response_model=ProductRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=MANAGE,
)
def create_product(body: ProductCreate, uow: UowDep) -> ProductRead:
    """Add a product with its first version (at the province only)."""
    return service.create_product(uow=uow, spec=body)


@router.post("/sync", response_model=SyncReport, dependencies=MANAGE)
def sync(uow: UowDep, con: ScopedWarehouseDep) -> SyncReport:
    """Add warehouse products missing from the catalog as version 1 (rerunning adds nothing)."""
    return service.sync_from_warehouse(uow=uow, con=con)


@router.get("/products/{code}", response_model=ProductRead, dependencies=READ)
def get_product(code: str, uow: UowDep, on: OnQuery = None) -> ProductRead:
    """One product with its version history."""
    return service.get_product(uow=uow, code=code, on=on)


@router.post(
    "/products/{code}/versions",
    response_model=ProductRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=MANAGE,
)
def add_version(code: str, body: VersionCreate, uow: UowDep) -> ProductRead:
    """A price or terms change: a new version from today or later; earlier ones stay."""
    return service.add_version(uow=uow, code=code, spec=body)


@router.post("/products/{code}/retire", response_model=ProductRead, dependencies=MANAGE)
def retire_product(code: str, uow: UowDep) -> ProductRead:
    """Take a product off sale from today; its past prices stay answerable."""
    return service.retire_product(uow=uow, code=code)


@router.get("/products/{code}/price", response_model=PriceRead, dependencies=READ)
def price(
    code: str,
    uow: UowDep,
    on: Annotated[date | None, Query(description="The day (default today).")] = None,
) -> PriceRead:
    """The monthly fee of a product on a day, and the version it comes from."""
    return service.price_at(uow=uow, code=code, day=on or service.province_today())


@router.get("/orders/{order_id}/price", response_model=OrderPrice, dependencies=READ)
def order_price(order_id: int, uow: UowDep, con: ScopedWarehouseDep) -> OrderPrice:
    """The monthly fee a warehouse order was placed at: the version in force on its day.

    Orders are read through the caller's scoped warehouse, so an order of a line outside
    the caller's units is 404 like one that does not exist.
    """
    return service.order_price(uow=uow, con=con, order_id=order_id)
