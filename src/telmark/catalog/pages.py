"""Console pages of the catalog: the browser, a product's history and timeline, the editor.

The editor adds a version (price or terms change) in yuan; each problem is
shown beside its field (keys are the domain's field names, so a rule's error
and a form parse error land in the same place). Successes redirect back with
a ``done`` message; refusals re-render with status 422 and nothing changed.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from telmark.auth.deps import ScopedWarehouseDep, require
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.catalog import service
from telmark.catalog.domain import (
    MAX_COMPONENTS,
    CatalogInputInvalid,
    PaymentType,
    ProductKind,
    ProductStatus,
    VersionSource,
)
from telmark.catalog.schemas import ProductCreate, ProductRead, VersionCreate
from telmark.errors import DomainError
from telmark.org.domain import is_root_path
from telmark.segments.labels import CODE_LABELS
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.warehouse.labels import PRODUCT_KIND_LABELS
from telmark.web.deps import LocaleDep, TemplatesDep, UowDep
from telmark.web.i18n import gettext_for
from telmark.web.templating import ConsoleTemplates

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, require(Action.OVERVIEW_READ)]
Manager = Annotated[Principal, require(Action.CATALOG_MANAGE)]
MANAGE = [require(Action.CATALOG_MANAGE)]

FAMILY_LABELS = CODE_LABELS["family"]
PAYMENT_LABELS = {"prepaid": N_("Prepaid"), "postpaid": N_("Postpaid"), "any": N_("Any")}
STATUS_LABELS = {ProductStatus.ON_SALE: N_("On sale"), ProductStatus.RETIRED: N_("Retired")}
SOURCE_LABELS = {
    VersionSource.ENTERED: N_("Entered"),
    VersionSource.WAREHOUSE: N_("From the warehouse"),
}
DONE_MESSAGES = {
    "created": N_("The product was added with its first version."),
    "version": N_("The new version was saved; earlier prices stay as they were."),
    "retired": N_("The product was retired; its past prices stay answerable."),
}
COMPONENT_ROWS = 5  # editor rows for bundle components (the domain allows MAX_COMPONENTS)
assert COMPONENT_ROWS <= MAX_COMPONENTS


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: str(form.get(name) or "") for name in form}


FormDep = Annotated[dict[str, str], Depends(_form_fields)]


def _may_change(principal: Principal) -> bool:
    return principal.can(Action.CATALOG_MANAGE) and is_root_path(principal.org_path)


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": PRODUCT_KIND_LABELS,
        "family_labels": FAMILY_LABELS,
        "payment_labels": PAYMENT_LABELS,
        "status_labels": STATUS_LABELS,
        "source_labels": SOURCE_LABELS,
    }


@router.get("/catalog", response_class=HTMLResponse, name="catalog")
def catalog_page(
    request: Request,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    kind: str = "",
    family: str = "",
    status: str = "",
    synced: str = "",
    existing: str = "",
) -> Response:
    """Every product with the fee in force today, filtered by kind, family and status."""
    chosen_kind = ProductKind(kind) if kind in ProductKind.__members__.values() else None
    chosen_status = ProductStatus(status) if status in ProductStatus.__members__.values() else None
    chosen_family = family if family in FAMILY_LABELS else None
    products = service.list_products(
        uow=uow, kind=chosen_kind, family=chosen_family, status=chosen_status
    )
    context = {
        "page_title": gettext_for(locale, N_("Catalog")),
        "products": products,
        "kind": chosen_kind or "",
        "family": chosen_family or "",
        "status": chosen_status or "",
        "today": service.province_today(),
        "can_change": _may_change(principal),
        "synced": _count(synced),
        "existing": _count(existing),
        **_labels(),
    }
    return templates.render(request, "catalog/list.html", context)


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _timeline(product: ProductRead, today: date) -> list[dict[str, Any]]:
    """Price periods, oldest first, with a bar width relative to the highest fee."""
    top = max((v.monthly_fee_fen for v in product.versions), default=0) or 1
    return [
        {
            "version": v.version,
            "start": v.valid_from,
            "end": v.valid_until,
            "fee": v.monthly_fee_fen,
            "width": max(2, round(100 * v.monthly_fee_fen / top)),
            "current": product.current is not None and v.version == product.current.version,
            "future": v.valid_from > today,
        }
        for v in product.versions
    ]


def _yuan_text(fen: int | None) -> str:
    return "" if fen is None else str(Decimal(fen) / 100)


def _form_from(product: ProductRead) -> dict[str, str]:
    """The editor prefilled with the latest version's terms (the usual start of a change)."""
    if not product.versions:
        return {}
    v = product.versions[-1]
    form = {
        "fee_yuan": _yuan_text(v.monthly_fee_fen),
        "data_mb": "" if v.data_mb is None else str(v.data_mb),
        "voice_min": "" if v.voice_min is None else str(v.voice_min),
        "is_5g": "1" if v.is_5g else "",
        "speed_mbps": "" if v.speed_mbps is None else str(v.speed_mbps),
        "iptv_channels": "" if v.iptv_channels is None else str(v.iptv_channels),
        "iptv_package": v.iptv_package or "",
    }
    for i, c in enumerate(v.components):
        form |= {
            f"component_code_{i}": c.code,
            f"component_quantity_{i}": str(c.quantity),
            f"component_share_yuan_{i}": _yuan_text(c.fee_share_fen),
        }
    if v.handset is not None:
        form |= {
            "device_model": v.handset.device_model,
            "device_price_yuan": _yuan_text(v.handset.device_price_fen),
            "subsidy_yuan": _yuan_text(v.handset.subsidy_fen),
            "lock_in_months": str(v.handset.lock_in_months),
            "min_spend_yuan": _yuan_text(v.handset.min_monthly_spend_fen),
        }
    return form


def _render_product(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    principal: Principal,
    uow: UnitOfWork,
    code: str,
    *,
    form: dict[str, str] | None = None,
    field_errors: dict[str, list[str]] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    product = service.get_product(uow=uow, code=code)
    today = service.province_today()
    context = {
        "page_title": f"{product.name} · {gettext_for(locale, N_('Catalog'))}",
        "product": product,
        "timeline": _timeline(product, today),
        "today": today,
        "can_change": _may_change(principal) and product.status is ProductStatus.ON_SALE,
        "form": form if form is not None else _form_from(product),
        "field_errors": field_errors or {},
        "errors": errors or [],
        "component_rows": range(COMPONENT_ROWS),
        "done": DONE_MESSAGES.get(request.query_params.get("done", "")),
        **_labels(),
    }
    return templates.render(request, "catalog/product.html", context, status_code=status_code)


def _render_new(
    request: Request,
    templates: ConsoleTemplates,
    locale: str,
    kind: ProductKind,
    *,
    form: dict[str, str] | None = None,
    field_errors: dict[str, list[str]] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "page_title": f"{gettext_for(locale, N_('New product'))} · "
        f"{gettext_for(locale, N_('Catalog'))}",
        "kind": kind,
        "form": form or {"valid_from": service.province_today().isoformat()},
        "field_errors": field_errors or {},
        "errors": errors or [],
        "component_rows": range(COMPONENT_ROWS),
        **_labels(),
    }
    return templates.render(request, "catalog/new.html", context, status_code=status_code)


def _kind_of(text: str) -> ProductKind:
    return ProductKind(text) if text in ProductKind.__members__.values() else ProductKind.PLAN


@router.get("/catalog/new", response_class=HTMLResponse, dependencies=MANAGE)
def new_product_page(
    request: Request, templates: TemplatesDep, locale: LocaleDep, kind: str = ""
) -> Response:
    """The form for a new product of ``kind``; its fields follow the kind."""
    return _render_new(request, templates, locale, _kind_of(kind))


@router.post("/catalog/new", response_class=HTMLResponse, dependencies=MANAGE)
def create_product(
    request: Request, uow: UowDep, templates: TemplatesDep, locale: LocaleDep, form: FormDep
) -> Response:
    """Save a new product with its version 1 (which may start in the past)."""
    kind = _kind_of(form.get("kind", ""))
    try:
        version = _version_from_form(form, kind)
        spec = ProductCreate(
            code=form.get("code", ""),
            name=form.get("name", ""),
            kind=kind,
            family=form.get("family", ""),
            payment_type=PaymentType(form["payment_type"])
            if form.get("payment_type") in PaymentType.__members__.values()
            else PaymentType.ANY,
            version=version,
        )
        product = service.create_product(uow=uow, spec=spec)
    except (DomainError, ValidationError, _FormProblems) as error:
        uow.rollback()
        problems = _problems_of(error, locale)
        general = problems.pop("", [])
        return _render_new(
            request, templates, locale, kind,
            form=form, field_errors=problems, errors=general, status_code=422,
        )  # fmt: skip
    return RedirectResponse(f"/catalog/{quote(product.code)}?{urlencode({'done': 'created'})}", 303)


@router.post("/catalog/sync", response_class=HTMLResponse, dependencies=MANAGE)
def sync(uow: UowDep, con: ScopedWarehouseDep) -> Response:
    """Add the warehouse's products missing from the catalog (rerunning adds nothing)."""
    report = service.sync_from_warehouse(uow=uow, con=con)
    query = urlencode({"synced": len(report.created), "existing": report.existing})
    return RedirectResponse(f"/catalog?{query}", 303)


@router.get("/catalog/{code}", response_class=HTMLResponse)
def product_page(
    code: str,
    request: Request,
    principal: Reader,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
) -> Response:
    """One product: its terms today, version history, price timeline and the editor."""
    return _render_product(request, templates, locale, principal, uow, code)


class _FormProblems(Exception):
    def __init__(self, problems: dict[str, list[str]]) -> None:
        super().__init__("form problems")
        self.problems = problems


def _version_from_form(form: dict[str, str], kind: ProductKind) -> VersionCreate:
    """A VersionCreate from the editor's text fields; _FormProblems names each bad field."""
    problems: dict[str, list[str]] = {}

    def fen(name: str, target: str) -> int | None:
        text = form.get(name, "").strip()
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            problems.setdefault(target, []).append(N_("not an amount in yuan"))
            return None
        # Decimal, not float: money is exact (0.29 yuan is 29 fen).
        return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))

    def whole(name: str, target: str | None = None) -> int | None:
        text = form.get(name, "").strip()
        if not text:
            return None
        if not text.lstrip("+-").isdigit():
            problems.setdefault(target or name, []).append(N_("not a whole number"))
            return None
        return int(text)

    valid_from: date | None = None
    if form.get("valid_from", "").strip():
        try:
            valid_from = date.fromisoformat(form["valid_from"].strip())
        except ValueError:
            problems.setdefault("valid_from", []).append(N_("not a date (YYYY-MM-DD)"))
    fee = fen("fee_yuan", "monthly_fee_fen")
    if fee is None and "monthly_fee_fen" not in problems:
        problems["monthly_fee_fen"] = [N_("required")]
    usage = kind in (ProductKind.PLAN, ProductKind.ADDON, ProductKind.BUNDLE)
    body: dict[str, Any] = {
        "valid_from": valid_from,
        "monthly_fee_fen": fee,
        "data_mb": whole("data_mb") if usage else None,
        "voice_min": whole("voice_min") if usage else None,
        "is_5g": bool(form.get("is_5g")) and usage,
        "note": form.get("note", ""),
    }
    if kind in (ProductKind.BROADBAND, ProductKind.BUNDLE):
        body["speed_mbps"] = whole("speed_mbps")
    if kind in (ProductKind.IPTV, ProductKind.BUNDLE):
        body["iptv_channels"] = whole("iptv_channels")
        body["iptv_package"] = form.get("iptv_package", "").strip() or None
    if kind is ProductKind.BUNDLE:
        components: list[dict[str, object]] = []
        for i in range(COMPONENT_ROWS):
            code = form.get(f"component_code_{i}", "").strip()
            if not code:
                continue
            at = f"components[{len(components)}]"
            components.append(
                {
                    "code": code,
                    "quantity": whole(f"component_quantity_{i}", f"{at}.quantity") or 1,
                    "fee_share_fen": fen(f"component_share_yuan_{i}", f"{at}.fee_share_fen") or 0,
                }
            )
        body["components"] = components
    if kind is ProductKind.HANDSET_CONTRACT:
        body["handset"] = {
            "device_model": form.get("device_model", ""),
            "device_price_fen": fen("device_price_yuan", "device_price_fen") or 0,
            "subsidy_fen": fen("subsidy_yuan", "subsidy_fen") or 0,
            "lock_in_months": whole("lock_in_months") or 0,
            "min_monthly_spend_fen": fen("min_spend_yuan", "min_monthly_spend_fen") or 0,
        }
    if problems:
        raise _FormProblems(problems)
    return VersionCreate.model_validate(body)


def _problems_of(
    error: DomainError | ValidationError | _FormProblems, locale: str
) -> dict[str, list[str]]:
    """Messages by field (domain field names; "" for the form as a whole), translated."""
    if isinstance(error, _FormProblems):
        return {k: [gettext_for(locale, m) for m in v] for k, v in error.problems.items()}
    if isinstance(error, ValidationError):
        found: dict[str, list[str]] = {}
        for e in error.errors():
            found.setdefault(".".join(str(p) for p in e["loc"]), []).append(e["msg"])
        return found
    if isinstance(error, CatalogInputInvalid):
        found = {}
        for p in error.problems:
            found.setdefault(p.field, []).append(gettext_for(locale, p.message) % p.params)
        return found
    # Other refusals (a code already taken) name their field in the details when they can.
    fields = [str(d["field"]) for d in error.details if d.get("field")]
    return {fields[0] if len(fields) == 1 else "": [error.message]}


@router.post("/catalog/{code}/versions", response_class=HTMLResponse)
def add_version(
    code: str,
    request: Request,
    principal: Manager,
    uow: UowDep,
    templates: TemplatesDep,
    locale: LocaleDep,
    form: FormDep,
) -> Response:
    """Save the editor as a new version; problems are shown beside their fields."""
    product = service.get_product(uow=uow, code=code)
    try:
        spec = _version_from_form(form, product.kind)
        service.add_version(uow=uow, code=code, spec=spec)
    except (DomainError, ValidationError, _FormProblems) as error:
        uow.rollback()
        problems = _problems_of(error, locale)
        general = problems.pop("", [])
        return _render_product(
            request, templates, locale, principal, uow, code,
            form=form, field_errors=problems, errors=general, status_code=422,
        )  # fmt: skip
    return RedirectResponse(f"/catalog/{quote(code)}?{urlencode({'done': 'version'})}", 303)


@router.post("/catalog/{code}/retire", response_class=HTMLResponse, dependencies=MANAGE)
def retire(code: str, uow: UowDep) -> Response:
    """Take the product off sale from today."""
    service.retire_product(uow=uow, code=code)
    return RedirectResponse(f"/catalog/{quote(code)}?{urlencode({'done': 'retired'})}", 303)
