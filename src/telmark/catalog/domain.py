"""Pure rules of the product catalog: products, their price versions and kind terms.

A product (a plan, add-on pack, broadband speed, IPTV package, converged
bundle or handset contract) keeps its code for life: the code is the
warehouse's ``products.product_id``, so subscriptions and orders in the
warehouse name catalog products. What a product costs and includes lives in
**versions**, which are never changed: a price change appends a version that
applies from its ``valid_from`` day on. A version applies until the next one
begins; that end is derived from the list, never stored, so adding a version
cannot rewrite what an earlier day cost (``version_at``).

A new version must start today or later and after the latest version, so a
price already charged is never replaced retroactively. The first version of a
product may start in the past (the product was already on sale when it was
recorded, e.g. synced from the warehouse).

Terms depend on the kind: data/voice/5G for plans and add-ons, a speed for
broadband, channels for IPTV, components for a bundle (their fee shares add
up to the bundle's monthly fee), device/subsidy/lock-in/minimum spend for a
handset contract. Versions synced from the warehouse carry only what the
warehouse knows (``VersionSource.WAREHOUSE``); a version a person enters
must give the full terms of its kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol, TypeVar

from telmark.errors import InvalidInput, InvalidTransition
from telmark.translation import N_
from telmark.warehouse.contract import PRODUCT_FAMILIES, PRODUCT_KINDS

MAX_FEE_FEN = 10_000_000  # as products.monthly_fee_fen in the data contract
MAX_DEVICE_PRICE_FEN = 10_000_000  # 100,000 yuan
MAX_LOCK_IN_MONTHS = 60
MAX_CODE = 40
MAX_NAME = 120
MAX_NOTE = 1000
MAX_COMPONENTS = 10
MAX_QUANTITY = 10
CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


class ProductKind(StrEnum):
    PLAN = "plan"
    BUNDLE = "bundle"
    ADDON = "addon"
    BROADBAND = "broadband"
    IPTV = "iptv"
    HANDSET_CONTRACT = "handset_contract"


class PaymentType(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"
    ANY = "any"


class ProductStatus(StrEnum):
    ON_SALE = "on_sale"
    RETIRED = "retired"


class VersionSource(StrEnum):
    ENTERED = "entered"  # by a person (console, API, CLI): full terms of the kind
    WAREHOUSE = "warehouse"  # synced from warehouse products: what the warehouse knows


assert tuple(k.value for k in ProductKind) == PRODUCT_KINDS  # the contract's kinds, in order
FAMILIES: tuple[str, ...] = PRODUCT_FAMILIES

ALLOWED: dict[ProductStatus, frozenset[ProductStatus]] = {
    ProductStatus.ON_SALE: frozenset({ProductStatus.RETIRED}),
    ProductStatus.RETIRED: frozenset(),
}

_USAGE_KINDS = frozenset({ProductKind.PLAN, ProductKind.ADDON, ProductKind.BUNDLE})


def transition(current: ProductStatus, to: ProductStatus) -> ProductStatus:
    """``to`` if a product in ``current`` may move there; InvalidTransition otherwise."""
    if to not in ALLOWED[current]:
        raise InvalidTransition(f"product is {current}; it cannot become {to}")
    return to


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a field: ``message`` is an English msgid filled from ``params``."""

    field: str
    message: str
    params: dict[str, object] = dataclasses.field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.message % self.params


class CatalogInputInvalid(InvalidInput):
    """One or more fields of a product or version are invalid (``problems`` name each)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"{first.field}: {first.reason}",
            details=[{"field": p.field, "reason": p.reason} for p in problems],
        )
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Component:
    """One line of a bundle: ``quantity`` of product ``code``, given ``fee_share_fen`` in all."""

    code: str
    quantity: int
    fee_share_fen: int


@dataclass(frozen=True, slots=True)
class HandsetTerms:
    device_model: str
    device_price_fen: int
    subsidy_fen: int
    lock_in_months: int
    min_monthly_spend_fen: int


@dataclass(frozen=True, slots=True)
class Terms:
    """What a version charges and includes (the kind decides which fields apply)."""

    monthly_fee_fen: int
    data_mb: int | None = None
    voice_min: int | None = None
    is_5g: bool = False
    speed_mbps: int | None = None
    iptv_channels: int | None = None
    iptv_package: str | None = None
    components: tuple[Component, ...] = ()
    handset: HandsetTerms | None = None


@dataclass(frozen=True, slots=True)
class ProductSpec:
    code: str
    name: str
    kind: ProductKind
    family: str
    payment_type: PaymentType


def check_product(spec: ProductSpec) -> None:
    """Refuse a product whose code, name or family is unusable (every field named)."""
    problems: list[Problem] = []
    if not spec.code:
        problems.append(Problem("code", N_("required")))
    elif len(spec.code) > MAX_CODE or not set(spec.code) <= CODE_CHARS:
        message = N_("letters, digits, '_', '-' or '.', at most %(n)s characters")
        problems.append(Problem("code", message, {"n": MAX_CODE}))
    name = spec.name.strip()
    if not name:
        problems.append(Problem("name", N_("required")))
    elif len(name) > MAX_NAME:
        problems.append(Problem("name", N_("longer than %(n)s characters"), {"n": MAX_NAME}))
    if spec.family not in FAMILIES:
        message = N_("must be one of %(allowed)s")
        problems.append(Problem("family", message, {"allowed": ", ".join(FAMILIES)}))
    if problems:
        raise CatalogInputInvalid(problems)


def _range(
    problems: list[Problem], name: str, value: int | None, low: int, high: int | None
) -> None:
    if value is None:
        return
    if value < low or (high is not None and value > high):
        if high is None:
            problems.append(Problem(name, N_("below the minimum %(low)s"), {"low": low}))
        else:
            message = N_("must be between %(low)s and %(high)s")
            problems.append(Problem(name, message, {"low": low, "high": high}))


def _required(problems: list[Problem], name: str, value: object) -> None:
    if value is None or value == "":
        problems.append(Problem(name, N_("required for this kind of product")))


def _absent(problems: list[Problem], name: str, value: object) -> None:
    if value not in (None, "", ()):
        problems.append(Problem(name, N_("does not apply to this kind of product")))


def check_terms(
    kind: ProductKind,
    terms: Terms,
    *,
    source: VersionSource = VersionSource.ENTERED,
    component_kinds: Mapping[str, ProductKind | None] | None = None,
) -> None:
    """Refuse terms that do not fit ``kind``; CatalogInputInvalid names every field.

    ``component_kinds`` maps each bundle component code to its product's kind
    (None: no such product). Warehouse-synced terms may leave kind terms out;
    what they do give is checked the same way.
    """
    strict = source is VersionSource.ENTERED
    problems: list[Problem] = []
    _range(problems, "monthly_fee_fen", terms.monthly_fee_fen, 0, MAX_FEE_FEN)
    _range(problems, "data_mb", terms.data_mb, 0, None)
    _range(problems, "voice_min", terms.voice_min, 0, None)
    if kind not in _USAGE_KINDS:
        for name in ("data_mb", "voice_min"):
            if getattr(terms, name):
                problems.append(Problem(name, N_("does not apply to this kind of product")))
    if kind in (ProductKind.BROADBAND, ProductKind.BUNDLE):
        _range(problems, "speed_mbps", terms.speed_mbps, 1, 10_000)
        if strict and kind is ProductKind.BROADBAND:
            _required(problems, "speed_mbps", terms.speed_mbps)
    else:
        _absent(problems, "speed_mbps", terms.speed_mbps)
    if kind in (ProductKind.IPTV, ProductKind.BUNDLE):
        _range(problems, "iptv_channels", terms.iptv_channels, 1, 5_000)
        if strict and kind is ProductKind.IPTV:
            _required(problems, "iptv_channels", terms.iptv_channels)
        if terms.iptv_package is not None and len(terms.iptv_package) > MAX_NAME:
            problems.append(
                Problem("iptv_package", N_("longer than %(n)s characters"), {"n": MAX_NAME})
            )
    else:
        _absent(problems, "iptv_channels", terms.iptv_channels)
        _absent(problems, "iptv_package", terms.iptv_package)
    if kind is ProductKind.BUNDLE:
        if strict or terms.components:
            problems += bundle_problems(terms, component_kinds or {})
    else:
        _absent(problems, "components", terms.components)
    if kind is ProductKind.HANDSET_CONTRACT:
        if terms.handset is not None:
            problems += handset_problems(terms.handset, terms.monthly_fee_fen)
        elif strict:
            problems.append(Problem("device_model", N_("required for this kind of product")))
    elif terms.handset is not None:
        problems.append(Problem("device_model", N_("does not apply to this kind of product")))
    if problems:
        raise CatalogInputInvalid(problems)


def bundle_problems(
    terms: Terms, component_kinds: Mapping[str, ProductKind | None]
) -> list[Problem]:
    """Components exist, are no bundles, appear once, and their shares add up to the fee."""
    problems: list[Problem] = []
    parts = terms.components
    if len(parts) < 2:
        problems.append(Problem("components", N_("a bundle needs at least two components")))
    if len(parts) > MAX_COMPONENTS:
        message = N_("at most %(n)s components")
        problems.append(Problem("components", message, {"n": MAX_COMPONENTS}))
    seen: set[str] = set()
    for i, part in enumerate(parts):
        where = f"components[{i}]"
        if part.code in seen:
            message = N_("%(code)s is listed twice; give its quantity instead")
            problems.append(Problem(f"{where}.code", message, {"code": part.code}))
        seen.add(part.code)
        kind = component_kinds.get(part.code)
        if kind is None:
            message = N_("no product %(code)s in the catalog")
            problems.append(Problem(f"{where}.code", message, {"code": part.code}))
        elif kind is ProductKind.BUNDLE:
            message = N_("%(code)s is a bundle; a bundle cannot contain another bundle")
            problems.append(Problem(f"{where}.code", message, {"code": part.code}))
        _range(problems, f"{where}.quantity", part.quantity, 1, MAX_QUANTITY)
        _range(problems, f"{where}.fee_share_fen", part.fee_share_fen, 0, MAX_FEE_FEN)
    total = sum(p.fee_share_fen for p in parts)
    if parts and total != terms.monthly_fee_fen:
        message = N_("the components' fee shares add up to %(total)s fen, not the fee %(fee)s")
        problems.append(
            Problem("components", message, {"total": total, "fee": terms.monthly_fee_fen})
        )
    return problems


def handset_problems(handset: HandsetTerms, monthly_fee_fen: int) -> list[Problem]:
    """A device is named and priced; subsidy, lock-in and minimum spend make sense together.

    The subsidy is at most the device price and at most the spend the lock-in
    commits (lock-in months × minimum monthly spend): an operator does not pay
    out more than the contract brings in. The minimum spend covers at least the
    contract's own monthly fee.
    """
    problems: list[Problem] = []
    model = handset.device_model.strip()
    if not model:
        problems.append(Problem("device_model", N_("required for this kind of product")))
    elif len(model) > MAX_NAME:
        message = N_("longer than %(n)s characters")
        problems.append(Problem("device_model", message, {"n": MAX_NAME}))
    _range(problems, "device_price_fen", handset.device_price_fen, 1, MAX_DEVICE_PRICE_FEN)
    _range(problems, "subsidy_fen", handset.subsidy_fen, 0, MAX_DEVICE_PRICE_FEN)
    _range(problems, "lock_in_months", handset.lock_in_months, 1, MAX_LOCK_IN_MONTHS)
    _range(problems, "min_monthly_spend_fen", handset.min_monthly_spend_fen, 1, MAX_FEE_FEN)
    if handset.subsidy_fen > handset.device_price_fen:
        message = N_("more than the device price %(price)s fen")
        problems.append(Problem("subsidy_fen", message, {"price": handset.device_price_fen}))
    committed = handset.lock_in_months * handset.min_monthly_spend_fen
    if handset.lock_in_months >= 1 and handset.subsidy_fen > committed:
        message = N_("more than the committed spend %(committed)s fen (lock-in × minimum spend)")
        problems.append(Problem("subsidy_fen", message, {"committed": committed}))
    if handset.min_monthly_spend_fen < monthly_fee_fen:
        message = N_("below the contract's monthly fee %(fee)s fen")
        problems.append(Problem("min_monthly_spend_fen", message, {"fee": monthly_fee_fen}))
    return problems


def check_next_valid_from(valid_from: date, *, latest: date | None, today: date) -> None:
    """A new version starts today or later, and after the latest version (if any).

    The first version (``latest`` None) may start in the past: the product was
    already on sale when it was recorded.
    """
    if latest is None:
        return
    if valid_from < today:
        message = N_("%(day)s is in the past; a price change applies from today (%(today)s) on")
        raise CatalogInputInvalid(
            [Problem("valid_from", message, {"day": valid_from, "today": today})]
        )
    if valid_from <= latest:
        message = N_("must be after the latest version's start %(latest)s")
        raise CatalogInputInvalid([Problem("valid_from", message, {"latest": latest})])


def check_changeable(status: ProductStatus) -> None:
    """A retired product keeps its last version: it takes no new ones."""
    if status is not ProductStatus.ON_SALE:
        raise InvalidTransition("the product is retired: it takes no new versions")


class Dated(Protocol):
    @property
    def valid_from(self) -> date: ...


_V = TypeVar("_V", bound=Dated)


def version_at(versions: Sequence[_V], day: date) -> _V | None:
    """The version that applied on ``day``: the latest starting on or before it.

    ``versions`` in any order; None before the first version began.
    """
    applying = [v for v in versions if v.valid_from <= day]
    return max(applying, key=lambda v: v.valid_from) if applying else None


def valid_until(versions: Sequence[_V]) -> list[tuple[_V, date | None]]:
    """Each version (by start) with the day its validity ends (exclusive; None: open)."""
    ordered = sorted(versions, key=lambda v: v.valid_from)
    ends: list[date | None] = [v.valid_from for v in ordered[1:]]
    return list(zip(ordered, [*ends, None], strict=True))
