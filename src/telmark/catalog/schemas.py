"""API/CLI shapes of the catalog. Money in integer fen; days as ISO dates."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from telmark.catalog.domain import PaymentType, ProductKind, ProductStatus, VersionSource


class ComponentIn(BaseModel):
    code: str = Field(description="Component product code (not a bundle).", examples=["PL5G079"])
    quantity: int = Field(default=1, description="How many of it the bundle includes.")
    fee_share_fen: int = Field(description="Its share of the bundle's monthly fee (all units).")


class HandsetIn(BaseModel):
    device_model: str = Field(examples=["华为 Mate 60"])
    device_price_fen: int = Field(description="Retail price of the device.")
    subsidy_fen: int = Field(description="What the operator pays towards the device.")
    lock_in_months: int = Field(description="Months the customer commits to.")
    min_monthly_spend_fen: int = Field(description="Minimum monthly spend during the lock-in.")


class VersionCreate(BaseModel):
    """The terms of a new version; fields that do not apply to the kind stay empty."""

    valid_from: date | None = Field(
        default=None, description="First day it applies (default today; never in the past)."
    )
    monthly_fee_fen: int = Field(examples=[12_900])
    data_mb: int | None = Field(default=None, description="Plans, add-ons, bundles.")
    voice_min: int | None = Field(default=None, description="Plans, add-ons, bundles.")
    is_5g: bool = False
    speed_mbps: int | None = Field(default=None, description="Broadband (and bundles).")
    iptv_channels: int | None = Field(default=None, description="IPTV (and bundles).")
    iptv_package: str | None = Field(default=None, description="IPTV package name.")
    components: list[ComponentIn] = Field(
        default_factory=list, description="Bundles: their components; shares sum to the fee."
    )
    handset: HandsetIn | None = Field(default=None, description="Handset contracts.")
    note: str = Field(default="", max_length=1000, description="Why the version was added.")


class ProductCreate(BaseModel):
    code: str = Field(description="The warehouse products.product_id.", examples=["PL5G079"])
    name: str = Field(description="Chinese name.", examples=["5G畅享套餐79元"])
    kind: ProductKind
    family: str = Field(description="A product family of the data contract.", examples=["5g_plan"])
    payment_type: PaymentType = PaymentType.ANY
    version: VersionCreate = Field(description="Version 1 (may start in the past).")


class ComponentRead(BaseModel):
    code: str
    name: str
    kind: ProductKind
    quantity: int
    fee_share_fen: int


class VersionRead(BaseModel):
    version: int
    valid_from: date
    valid_until: date | None = Field(
        description="The next version's start (exclusive), derived; empty while open."
    )
    source: VersionSource
    monthly_fee_fen: int
    data_mb: int | None
    voice_min: int | None
    is_5g: bool
    speed_mbps: int | None
    iptv_channels: int | None
    iptv_package: str | None
    components: list[ComponentRead]
    handset: HandsetIn | None
    note: str
    created_by: str
    created_at: datetime


class ProductRead(BaseModel):
    code: str
    name: str
    kind: ProductKind
    family: str
    payment_type: PaymentType
    status: ProductStatus
    retired_on: date | None
    created_by: str
    created_at: datetime
    current: VersionRead | None = Field(
        description="The version in force on the day asked (default today)."
    )
    versions: list[VersionRead] = Field(description="Every version, oldest first.")


class PriceRead(BaseModel):
    code: str
    on: date
    version: int
    monthly_fee_fen: int
    valid_from: date
    valid_until: date | None


class OrderPrice(BaseModel):
    """The price a warehouse order was placed at: the version in force on its day."""

    order_id: int
    product_code: str
    ordered_on: date = Field(description="The order's day in the province's time zone.")
    version: int
    monthly_fee_fen: int


class SyncReport(BaseModel):
    created: list[str] = Field(description="Codes added as version 1, in order.")
    existing: int = Field(description="Warehouse products already in the catalog (untouched).")
