"""Catalog tables: products, their append-only price versions and bundle components."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column, relationship

from telmark.catalog.domain import PaymentType, ProductKind, ProductStatus, VersionSource
from telmark.db import Base, UTCDateTime, utcnow


def _enum(enum: type[ProductKind | PaymentType | ProductStatus | VersionSource]) -> SAEnum:
    return SAEnum(
        enum, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e]
    )


class Product(Base):
    """A product of the catalog; ``code`` is the warehouse's ``products.product_id``."""

    __tablename__ = "catalog_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[ProductKind] = mapped_column(_enum(ProductKind))
    family: Mapped[str] = mapped_column(String(24))
    payment_type: Mapped[PaymentType] = mapped_column(_enum(PaymentType))
    status: Mapped[ProductStatus] = mapped_column(
        _enum(ProductStatus), default=ProductStatus.ON_SALE
    )
    retired_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    versions: Mapped[list[ProductVersion]] = relationship(
        back_populates="product", order_by="ProductVersion.version", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint("(status = 'retired') = (retired_on IS NOT NULL)", name="retired_has_date"),
    )


class ProductVersion(Base):
    """What a product costs and includes from ``valid_from`` on; never updated.

    It applies until the next version's ``valid_from`` (derived, not stored).
    Kind terms are NULL where they do not apply (or, for a version synced from
    the warehouse, where the warehouse does not say).
    """

    __tablename__ = "catalog_product_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("catalog_product.id"), index=True)
    version: Mapped[int]
    valid_from: Mapped[date] = mapped_column(Date)
    source: Mapped[VersionSource] = mapped_column(_enum(VersionSource))
    monthly_fee_fen: Mapped[int]
    data_mb: Mapped[int | None]
    voice_min: Mapped[int | None]
    is_5g: Mapped[bool]
    speed_mbps: Mapped[int | None]
    iptv_channels: Mapped[int | None]
    iptv_package: Mapped[str | None] = mapped_column(String(120))
    device_model: Mapped[str | None] = mapped_column(String(120))
    device_price_fen: Mapped[int | None]
    subsidy_fen: Mapped[int | None]
    lock_in_months: Mapped[int | None]
    min_monthly_spend_fen: Mapped[int | None]
    note: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    product: Mapped[Product] = relationship(back_populates="versions")
    components: Mapped[list[BundleComponent]] = relationship(
        order_by="BundleComponent.position", lazy="selectin"
    )

    # Defense in depth behind domain.check_terms / check_next_valid_from.
    __table_args__ = (
        UniqueConstraint("product_id", "version"),
        UniqueConstraint("product_id", "valid_from"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("monthly_fee_fen BETWEEN 0 AND 10000000", name="fee_range"),
        CheckConstraint(
            "COALESCE(data_mb, 0) >= 0 AND COALESCE(voice_min, 0) >= 0",
            name="allowances_not_negative",
        ),
        CheckConstraint(
            "subsidy_fen IS NULL OR (subsidy_fen >= 0 AND subsidy_fen <= device_price_fen)",
            name="subsidy_within_price",
        ),
        CheckConstraint(
            "lock_in_months IS NULL OR lock_in_months BETWEEN 1 AND 60", name="lock_in_range"
        ),
    )


class BundleComponent(Base):
    """One component line of a bundle version: ``quantity`` of a product, its fee share."""

    __tablename__ = "catalog_bundle_component"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("catalog_product_version.id"), index=True)
    position: Mapped[int]
    component_code: Mapped[str] = mapped_column(ForeignKey("catalog_product.code"))
    quantity: Mapped[int]
    fee_share_fen: Mapped[int]

    __table_args__ = (
        UniqueConstraint("version_id", "component_code"),
        CheckConstraint("quantity BETWEEN 1 AND 10", name="quantity_range"),
        CheckConstraint("fee_share_fen >= 0", name="share_not_negative"),
    )
