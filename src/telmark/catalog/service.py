"""Catalog use cases: products, append-only price versions, prices on a day, warehouse sync.

The catalog is province-wide: one book of products for every city, so every
case, projection and evaluation prices the same truth. Everyone with
``overview:read`` reads it; changes need ``catalog:manage`` and an actor at
the province (a city user holding the role is refused with Forbidden).
Versions are never updated: ``add_version`` appends one that starts today or
later, so what an earlier day cost stays answerable (``version_at``,
``price_at``, ``order_price``). Every change is written to the audit trail by
``telmark.audit.capture``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date

import ibis
from ibis.backends import BaseBackend
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from telmark.catalog import domain
from telmark.catalog.domain import (
    Component,
    HandsetTerms,
    PaymentType,
    ProductKind,
    ProductSpec,
    ProductStatus,
    Terms,
    VersionSource,
)
from telmark.catalog.models import BundleComponent, Product, ProductVersion
from telmark.catalog.schemas import (
    ComponentRead,
    HandsetIn,
    OrderPrice,
    PriceRead,
    ProductCreate,
    ProductRead,
    SyncReport,
    VersionCreate,
    VersionRead,
)
from telmark.db import utcnow
from telmark.errors import Conflict, Forbidden, InvalidInput, NotFound, WarehouseEmpty
from telmark.org.domain import is_root_path
from telmark.uow import UnitOfWork
from telmark.warehouse.contract import PROVINCE_TZ


def province_today() -> date:
    """Today in the province's time zone (a price change applies from a local day)."""
    return utcnow().astimezone(PROVINCE_TZ).date()


def _require_province(uow: UnitOfWork) -> None:
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("the catalog is province-wide: it is changed at the province")


# --- reading ---------------------------------------------------------------------------------


def _handset(version: ProductVersion) -> HandsetIn | None:
    if version.device_model is None:
        return None
    return HandsetIn(
        device_model=version.device_model,
        device_price_fen=version.device_price_fen or 0,
        subsidy_fen=version.subsidy_fen or 0,
        lock_in_months=version.lock_in_months or 0,
        min_monthly_spend_fen=version.min_monthly_spend_fen or 0,
    )


def _names(uow: UnitOfWork, codes: Iterable[str]) -> dict[str, tuple[str, ProductKind]]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = uow.session.execute(
        select(Product.code, Product.name, Product.kind).where(Product.code.in_(wanted))
    )
    return {code: (name, kind) for code, name, kind in rows}


def _version_reads(uow: UnitOfWork, versions: Sequence[ProductVersion]) -> list[VersionRead]:
    names = _names(uow, (c.component_code for v in versions for c in v.components))
    return [
        VersionRead(
            version=v.version,
            valid_from=v.valid_from,
            valid_until=until,
            source=v.source,
            monthly_fee_fen=v.monthly_fee_fen,
            data_mb=v.data_mb,
            voice_min=v.voice_min,
            is_5g=v.is_5g,
            speed_mbps=v.speed_mbps,
            iptv_channels=v.iptv_channels,
            iptv_package=v.iptv_package,
            components=[
                ComponentRead(
                    code=c.component_code,
                    name=names[c.component_code][0],
                    kind=names[c.component_code][1],
                    quantity=c.quantity,
                    fee_share_fen=c.fee_share_fen,
                )
                for c in v.components
            ],
            handset=_handset(v),
            note=v.note,
            created_by=v.created_by,
            created_at=v.created_at,
        )
        for v, until in domain.valid_until(versions)
    ]


def _read(uow: UnitOfWork, product: Product, on: date | None = None) -> ProductRead:
    versions = _version_reads(uow, product.versions)
    current = domain.version_at(versions, on or province_today())
    return ProductRead(
        code=product.code,
        name=product.name,
        kind=product.kind,
        family=product.family,
        payment_type=product.payment_type,
        status=product.status,
        retired_on=product.retired_on,
        created_by=product.created_by,
        created_at=product.created_at,
        current=current,
        versions=versions,
    )


def _product(uow: UnitOfWork, code: str, *, lock: bool = False) -> Product:
    stmt = select(Product).where(Product.code == code)
    if lock:
        # Serialises version numbering of one product (FOR UPDATE is ignored by SQLite,
        # which serialises writers anyway); the unique (product, version) is the backstop.
        stmt = stmt.with_for_update()
    product = uow.session.scalar(stmt)
    if product is None:
        raise NotFound(f"product {code} not found")
    return product


def get_product(*, uow: UnitOfWork, code: str, on: date | None = None) -> ProductRead:
    """One product with every version; ``current`` is the one in force ``on`` (default today)."""
    return _read(uow, _product(uow, code), on)


def list_products(
    *,
    uow: UnitOfWork,
    kind: ProductKind | None = None,
    family: str | None = None,
    status: ProductStatus | None = None,
    on: date | None = None,
) -> list[ProductRead]:
    """Products by kind, family and code; ``current`` is the version in force ``on``."""
    stmt: Select[Product] = select(Product)
    if kind is not None:
        stmt = stmt.where(Product.kind == kind)
    if family:
        stmt = stmt.where(Product.family == family)
    if status is not None:
        stmt = stmt.where(Product.status == status)
    stmt = stmt.order_by(Product.kind, Product.family, Product.code)
    return [_read(uow, p, on) for p in uow.session.scalars(stmt)]


def version_at(*, uow: UnitOfWork, code: str, day: date) -> VersionRead:
    """The version of product ``code`` in force on ``day`` (NotFound before its first)."""
    product = get_product(uow=uow, code=code, on=day)
    if product.current is None:
        first = product.versions[0].valid_from if product.versions else None
        raise NotFound(f"product {code} had no price on {day}; its first version starts {first}")
    return product.current


def price_at(*, uow: UnitOfWork, code: str, day: date) -> PriceRead:
    """The monthly fee of product ``code`` on ``day``, and the version it comes from."""
    version = version_at(uow=uow, code=code, day=day)
    return PriceRead(
        code=code,
        on=day,
        version=version.version,
        monthly_fee_fen=version.monthly_fee_fen,
        valid_from=version.valid_from,
        valid_until=version.valid_until,
    )


def order_price(*, uow: UnitOfWork, con: BaseBackend, order_id: int) -> OrderPrice:
    """The price warehouse order ``order_id`` was placed at (the version of its local day).

    ``con`` is the caller's (org-scoped) warehouse: an order outside the scope is NotFound.
    """
    if "orders" not in con.list_tables():
        raise WarehouseEmpty("the warehouse holds no orders yet")
    orders = con.table("orders")
    rows = (
        orders.filter(orders.order_id == ibis.literal(order_id, type="int64"))
        .select("product_id", "ordered_at")
        .to_pyarrow()
        .to_pylist()
    )
    if not rows:
        raise NotFound(f"order {order_id} not found")
    code = str(rows[0]["product_id"])
    day = rows[0]["ordered_at"].astimezone(PROVINCE_TZ).date()
    version = version_at(uow=uow, code=code, day=day)
    return OrderPrice(
        order_id=order_id,
        product_code=code,
        ordered_on=day,
        version=version.version,
        monthly_fee_fen=version.monthly_fee_fen,
    )


# --- changing --------------------------------------------------------------------------------


def _terms(spec: VersionCreate) -> Terms:
    handset = spec.handset
    return Terms(
        monthly_fee_fen=spec.monthly_fee_fen,
        data_mb=spec.data_mb,
        voice_min=spec.voice_min,
        is_5g=spec.is_5g,
        speed_mbps=spec.speed_mbps,
        iptv_channels=spec.iptv_channels,
        iptv_package=(spec.iptv_package or "").strip() or None,
        components=tuple(
            Component(code=c.code.strip(), quantity=c.quantity, fee_share_fen=c.fee_share_fen)
            for c in spec.components
        ),
        handset=None
        if handset is None
        else HandsetTerms(
            device_model=handset.device_model.strip(),
            device_price_fen=handset.device_price_fen,
            subsidy_fen=handset.subsidy_fen,
            lock_in_months=handset.lock_in_months,
            min_monthly_spend_fen=handset.min_monthly_spend_fen,
        ),
    )


def _component_kinds(
    uow: UnitOfWork, terms: Terms, pending: Mapping[str, ProductKind] | None = None
) -> dict[str, ProductKind | None]:
    known = _names(uow, (c.code for c in terms.components))
    kinds: dict[str, ProductKind | None] = {code: kind for code, (_, kind) in known.items()}
    for c in terms.components:
        kinds.setdefault(c.code, (pending or {}).get(c.code))
    return kinds


def _new_version(
    product: Product,
    number: int,
    valid_from: date,
    terms: Terms,
    *,
    source: VersionSource,
    note: str,
    created_by: str,
) -> ProductVersion:
    handset = terms.handset
    version = ProductVersion(
        version=number,
        valid_from=valid_from,
        source=source,
        monthly_fee_fen=terms.monthly_fee_fen,
        data_mb=terms.data_mb,
        voice_min=terms.voice_min,
        is_5g=terms.is_5g,
        speed_mbps=terms.speed_mbps,
        iptv_channels=terms.iptv_channels,
        iptv_package=terms.iptv_package,
        device_model=None if handset is None else handset.device_model,
        device_price_fen=None if handset is None else handset.device_price_fen,
        subsidy_fen=None if handset is None else handset.subsidy_fen,
        lock_in_months=None if handset is None else handset.lock_in_months,
        min_monthly_spend_fen=None if handset is None else handset.min_monthly_spend_fen,
        note=note.strip(),
        created_by=created_by,
        created_at=utcnow(),
        components=[
            BundleComponent(
                position=i,
                component_code=c.code,
                quantity=c.quantity,
                fee_share_fen=c.fee_share_fen,
            )
            for i, c in enumerate(terms.components)
        ],
    )
    product.versions.append(version)
    return version


def _commit(uow: UnitOfWork, what: str) -> None:
    try:
        uow.commit()
    except IntegrityError as error:
        uow.rollback()
        raise Conflict(f"{what} was changed at the same time; reload and try again") from error


def create_product(
    *, uow: UnitOfWork, spec: ProductCreate, today: date | None = None
) -> ProductRead:
    """Add a product with its version 1 (which may start in the past; default today)."""
    _require_province(uow)
    product_spec = ProductSpec(
        code=spec.code.strip(),
        name=spec.name.strip(),
        kind=spec.kind,
        family=spec.family,
        payment_type=spec.payment_type,
    )
    domain.check_product(product_spec)
    terms = _terms(spec.version)
    domain.check_terms(spec.kind, terms, component_kinds=_component_kinds(uow, terms))
    if uow.session.scalar(select(Product.id).where(Product.code == product_spec.code)):
        raise Conflict(
            f"code: product {product_spec.code} already exists; add a version to change it",
            details=[{"field": "code", "reason": "already exists"}],
        )
    product = Product(
        code=product_spec.code,
        name=product_spec.name,
        kind=spec.kind,
        family=spec.family,
        payment_type=spec.payment_type,
        status=ProductStatus.ON_SALE,
        created_by=uow.actor.username,
        created_at=utcnow(),
        versions=[],
    )
    uow.session.add(product)
    valid_from = spec.version.valid_from or today or province_today()
    _new_version(
        product, 1, valid_from, terms,
        source=VersionSource.ENTERED, note=spec.version.note, created_by=uow.actor.username,
    )  # fmt: skip
    _commit(uow, f"product {product.code}")
    return _read(uow, product, today)


def add_version(
    *, uow: UnitOfWork, code: str, spec: VersionCreate, today: date | None = None
) -> ProductRead:
    """Append a version (a price or terms change) starting today or later, after the latest."""
    _require_province(uow)
    day = today or province_today()
    product = _product(uow, code, lock=True)
    domain.check_changeable(product.status)
    terms = _terms(spec)
    domain.check_terms(product.kind, terms, component_kinds=_component_kinds(uow, terms))
    latest = max((v.valid_from for v in product.versions), default=None)
    valid_from = spec.valid_from or day
    domain.check_next_valid_from(valid_from, latest=latest, today=day)
    number = max((v.version for v in product.versions), default=0) + 1
    _new_version(
        product, number, valid_from, terms,
        source=VersionSource.ENTERED, note=spec.note, created_by=uow.actor.username,
    )  # fmt: skip
    _commit(uow, f"product {code}")
    return _read(uow, product, day)


def retire_product(*, uow: UnitOfWork, code: str, today: date | None = None) -> ProductRead:
    """Take a product off sale from today; its versions (and past prices) stay."""
    _require_province(uow)
    product = _product(uow, code, lock=True)
    product.status = domain.transition(product.status, ProductStatus.RETIRED)
    product.retired_on = today or province_today()
    _commit(uow, f"product {code}")
    return _read(uow, product, today)


# --- the warehouse ---------------------------------------------------------------------------


def _warehouse_terms(row: Mapping[str, object], kind: ProductKind, extra: Terms | None) -> Terms:
    """Terms of a warehouse ``products`` row; ``extra`` adds what the warehouse lacks."""
    usage = kind in (ProductKind.PLAN, ProductKind.ADDON, ProductKind.BUNDLE)
    base = Terms(
        monthly_fee_fen=int(str(row["monthly_fee_fen"])),
        data_mb=int(str(row["data_mb"])) if usage else None,
        voice_min=int(str(row["voice_min"])) if usage else None,
        is_5g=bool(row["is_5g"]),
    )
    if extra is None:
        return base
    return replace(
        base,
        speed_mbps=extra.speed_mbps,
        iptv_channels=extra.iptv_channels,
        iptv_package=extra.iptv_package,
        components=extra.components,
        handset=extra.handset,
    )


def sync_from_warehouse(
    *, uow: UnitOfWork, con: BaseBackend, terms: Mapping[str, Terms] | None = None
) -> SyncReport:
    """Add warehouse products missing from the catalog as version 1; existing ones untouched.

    Version 1 starts on the warehouse's ``launch_date`` (the earliest day it
    shows the product sold); a product with a ``retire_date`` arrives retired
    on that day. ``terms`` (by code) adds kind terms the warehouse does not
    carry (bundle components, handset terms, speeds, channels). Every new
    product is checked first; one commit, so a problem adds nothing. Rerunning
    adds nothing.
    """
    _require_province(uow)
    if "products" not in con.list_tables():
        raise WarehouseEmpty("the warehouse has no products table: load a province first")
    rows = con.table("products").order_by("product_id").to_pyarrow().to_pylist()
    existing = set(uow.session.scalars(select(Product.code)))
    missing = [r for r in rows if str(r["product_id"]) not in existing]
    # Components first: a bundle's components must exist when the bundle is checked.
    missing.sort(key=lambda r: (r["kind"] == ProductKind.BUNDLE, str(r["product_id"])))
    pending = {str(r["product_id"]): ProductKind(str(r["kind"])) for r in missing}
    problems: list[dict[str, object]] = []
    created: list[str] = []
    for row in missing:
        code = str(row["product_id"])
        kind = ProductKind(str(row["kind"]))
        spec = ProductSpec(
            code=code,
            name=str(row["name"]),
            kind=kind,
            family=str(row["family"]),
            payment_type=PaymentType(str(row["payment_type"])),
        )
        version_terms = _warehouse_terms(row, kind, (terms or {}).get(code))
        try:
            domain.check_product(spec)
            domain.check_terms(
                kind,
                version_terms,
                source=VersionSource.WAREHOUSE,
                component_kinds=_component_kinds(uow, version_terms, pending),
            )
        except InvalidInput as error:
            problems += [{"code": code, **d} for d in error.details]
            continue
        retired = row["retire_date"]
        product = Product(
            code=code,
            name=spec.name,
            kind=kind,
            family=spec.family,
            payment_type=spec.payment_type,
            status=ProductStatus.ON_SALE if retired is None else ProductStatus.RETIRED,
            retired_on=retired,
            created_by=uow.actor.username,
            created_at=utcnow(),
            versions=[],
        )
        uow.session.add(product)
        launch = row["launch_date"]
        assert isinstance(launch, date)
        _new_version(
            product, 1, launch, version_terms,
            source=VersionSource.WAREHOUSE, note="synced from the warehouse",
            created_by=uow.actor.username,
        )  # fmt: skip
        created.append(code)
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{first['code']} {first.get('field', '')}: {first.get('reason', '')}; "
            "nothing was synced",
            details=problems,
        )
    _commit(uow, "the catalog")
    return SyncReport(created=created, existing=len(rows) - len(missing))
