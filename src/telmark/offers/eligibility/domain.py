"""Which offers one subscriber may take, and every reason the others are excluded (pure).

The explainer judges each offer of the book for one line on one day and
collects *all* the reasons against it, so a front-line agent sees at once what
would have to change. The same rules guard redemption: ``conflicting_offers``
is the one implementation of mutual exclusion, used here and by
``offers.service.redeem``.

Decisions (what the rules below mean):

* **Line status** (``subscribers.status``: active, suspended, ported_out,
  terminated). A win-back offer is for a line that left or lapsed —
  suspended, ported out or terminated — and never for an active line (it would
  reward staying away). Every other action (new, upgrade, cross-sell,
  retention discount) sells to a working line, so needs an active one.
* **Payment type**: a product for prepaid (postpaid) lines only cannot go to a
  postpaid (prepaid) line; ``any`` fits both.
* **Already holds**: a new or cross-sell offer of a product the line holds
  today (an active subscription, or the main plan) has nothing to sell.
* **The plan an offer moves to** is its highest-fee plan or bundle product (a
  line has one main plan). Offers without one (packs, broadband, handset
  contracts) add to the line and move no plan. An upgrade must move to a plan
  whose monthly fee today is above the current plan's; when the current plan
  has no price in the catalog the upgrade cannot be shown and is refused.
* **Lock-in**: a line is locked in until the later of its contract end
  (``subscribers.contract_end``, if after today) and, for each handset contract
  it holds, the subscription's start plus the contract's lock-in months
  (catalog terms in force when it started). Under lock-in an offer may not move
  the line to a lower monthly fee, nor out of a converged bundle into a
  non-bundle plan (the bundle's broadband and TV are part of what was
  committed) whatever the fee. Win-back offers are not judged on lock-in: the
  line has already left its contract.
* **One handset contract at a time**: an offer of a handset contract is
  refused while the line holds one — a subscription of a handset-contract
  product, or a held offer (redemption) of one.
* **Mutual exclusion**: either side may name the other in ``excludes``; a held
  offer that excludes this one, or this one excluding a held one, refuses it.
  Holding this very offer refuses it too (a subscriber holds an offer once).
* **Stock**: a required pool (gift stock, red-packet budget) that cannot cover
  one more taker makes the offer out of stock.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from telmark.catalog.domain import PaymentType, ProductKind
from telmark.offers.domain import OfferStatus, ProductAction
from telmark.translation import N_
from telmark.warehouse.contract import SUBSCRIBER_STATUSES


class LineStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    PORTED_OUT = "ported_out"
    TERMINATED = "terminated"


assert tuple(s.value for s in LineStatus) == SUBSCRIBER_STATUSES  # the contract's statuses

# Lines a win-back offer is for: they left (ported out, terminated) or lapsed (suspended).
WIN_BACK_STATUSES = frozenset({LineStatus.SUSPENDED, LineStatus.PORTED_OUT, LineStatus.TERMINATED})
# Plans a line holds one of: an offer of one of these moves the line's main plan.
PLAN_KINDS = frozenset({ProductKind.PLAN, ProductKind.BUNDLE})


class ReasonCode(StrEnum):
    NOT_ON_SALE = "not_on_sale"
    OUTSIDE_VALIDITY = "outside_validity"
    OUT_OF_STOCK = "out_of_stock"
    LINE_STATUS = "line_status"
    SEGMENT_RULE = "segment_rule"
    RULE_UNAVAILABLE = "rule_unavailable"
    PRODUCT_UNAVAILABLE = "product_unavailable"
    PAYMENT_TYPE = "payment_type"
    ALREADY_HOLDS = "already_holds"
    HOLDS_OFFER = "holds_offer"
    NOT_UPGRADE = "not_upgrade"
    LOCK_IN = "lock_in"
    HANDSET_CONTRACT_HELD = "handset_contract_held"
    EXCLUDED_BY_OFFER = "excluded_by_offer"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an offer is excluded: ``message`` is an English msgid filled from ``params``.

    ``condition`` is the failed segment-rule node (``segment_rule``), so a page can
    describe it in its own language.
    """

    code: ReasonCode
    message: str
    params: dict[str, object] = field(default_factory=dict)
    condition: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.message % self.params


@dataclass(frozen=True, slots=True)
class Product:
    """A catalog product as the rules need it; ``monthly_fee_fen`` is the fee in force today."""

    code: str
    kind: ProductKind
    payment_type: PaymentType
    on_sale: bool
    monthly_fee_fen: int | None


@dataclass(frozen=True, slots=True)
class Holding:
    """A product the line holds today (an active subscription) since ``start_date``.

    ``lock_in_months`` is the handset contract's lock-in (None for other kinds).
    """

    product: Product
    start_date: date
    lock_in_months: int | None = None


@dataclass(frozen=True, slots=True)
class HeldOffer:
    """An offer the subscriber holds (a reserved or consumed redemption)."""

    code: str
    excludes: frozenset[str]
    handset: bool  # one of its products is a handset contract


@dataclass(frozen=True, slots=True)
class Line:
    """One subscriber as the rules see it; ``plan`` is None if the plan is not in the catalog."""

    subscriber_id: int
    status: LineStatus
    payment_type: str
    plan_code: str
    plan: Product | None
    contract_end: date | None
    holdings: tuple[Holding, ...] = ()
    held_offers: tuple[HeldOffer, ...] = ()


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """An offer's current terms; ``short_pools`` are required pools that cannot cover a taker."""

    code: str
    status: OfferStatus
    action: ProductAction
    product_codes: tuple[str, ...]
    valid_from: date
    valid_to: date | None
    excludes: frozenset[str] = frozenset()
    short_pools: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FailedCondition:
    """A top-level condition of the eligibility rule the line does not meet.

    ``described`` names it (English); ``actual`` is the line's value, if it has one.
    """

    node: dict[str, Any]
    described: str
    actual: str | None


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """The eligibility rule evaluated for the line: met, or which parts failed (or an error)."""

    met: bool
    failed: tuple[FailedCondition, ...] = ()
    error: str | None = None


def yuan(fen: int) -> str:
    """``3800`` → ``38.00 元`` (exact: integer arithmetic, no float)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d} 元"


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months; the 31st becomes the month's last day when shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def lock_in_until(line: Line, today: date) -> date | None:
    """The last day of the line's lock-in, or None if it is not locked in on ``today``."""
    ends = [line.contract_end] if line.contract_end is not None else []
    ends += [
        add_months(h.start_date, h.lock_in_months)
        for h in line.holdings
        if h.product.kind is ProductKind.HANDSET_CONTRACT and h.lock_in_months
    ]
    running = [end for end in ends if end > today]
    return max(running) if running else None


def conflicting_offers(
    code: str, excludes: Collection[str], held: Mapping[str, Collection[str]]
) -> list[tuple[str, bool]]:
    """Held offers that exclude offer ``code`` or that it excludes, by code.

    ``held`` maps each held offer to its ``excludes``. Each conflict is
    ``(held_code, by_held)``: ``by_held`` when the held offer names ``code``
    (else ``code`` names it). The offer itself is no conflict: holding it twice
    is refused on its own.
    """
    found: list[tuple[str, bool]] = []
    for other in sorted(held):
        if other == code:
            continue
        if code in held[other]:
            found.append((other, True))
        elif other in excludes:
            found.append((other, False))
    return found


def main_product(offer: OfferTerms, catalog: Mapping[str, Product]) -> Product | None:
    """The plan or bundle the offer moves the line to (the highest-fee one), if any."""
    plans = [
        p
        for code in offer.product_codes
        if (p := catalog.get(code)) is not None and p.kind in PLAN_KINDS
    ]
    return max(plans, key=lambda p: p.monthly_fee_fen or 0) if plans else None


def _offer_reasons(offer: OfferTerms, today: date) -> list[Reason]:
    reasons: list[Reason] = []
    if offer.status is not OfferStatus.ACTIVE:
        reasons.append(
            Reason(
                ReasonCode.NOT_ON_SALE,
                N_("The offer is %(status)s, not on sale."),
                {"status": offer.status.value},
            )
        )
    if today < offer.valid_from or (offer.valid_to is not None and today > offer.valid_to):
        reasons.append(
            Reason(
                ReasonCode.OUTSIDE_VALIDITY,
                N_("The offer is valid %(valid_from)s to %(valid_to)s, not on %(day)s."),
                {
                    "valid_from": offer.valid_from.isoformat(),
                    "valid_to": offer.valid_to.isoformat() if offer.valid_to else "—",
                    "day": today.isoformat(),
                },
            )
        )
    reasons += [
        Reason(
            ReasonCode.OUT_OF_STOCK,
            N_("Out of stock: the %(pool)s pool cannot cover another taker."),
            {"pool": pool},
        )
        for pool in offer.short_pools
    ]
    return reasons


def _line_status_reasons(offer: OfferTerms, line: Line) -> list[Reason]:
    win_back = offer.action is ProductAction.WIN_BACK
    if win_back and line.status not in WIN_BACK_STATUSES:
        return [
            Reason(
                ReasonCode.LINE_STATUS,
                N_(
                    "Win-back offers are for lines that left or are suspended; "
                    "this line is %(status)s."
                ),
                {"status": line.status.value},
            )
        ]
    if not win_back and line.status is not LineStatus.ACTIVE:
        return [
            Reason(
                ReasonCode.LINE_STATUS,
                N_("The line is %(status)s: only win-back offers apply."),
                {"status": line.status.value},
            )
        ]
    return []


def _rule_reasons(rule: RuleOutcome | None) -> list[Reason]:
    if rule is None or rule.met:
        return []
    if rule.error is not None:
        return [
            Reason(
                ReasonCode.RULE_UNAVAILABLE,
                N_("The eligibility rule cannot be evaluated: %(error)s"),
                {"error": rule.error},
            )
        ]
    if not rule.failed:  # met is False but no part said why: name the rule as a whole
        return [Reason(ReasonCode.SEGMENT_RULE, N_("The eligibility rule is not met."))]
    reasons = []
    for failed in rule.failed:
        if failed.actual is None:
            reasons.append(
                Reason(
                    ReasonCode.SEGMENT_RULE,
                    N_("Eligibility condition not met: %(condition)s."),
                    {"condition": failed.described},
                    failed.node,
                )
            )
        else:
            reasons.append(
                Reason(
                    ReasonCode.SEGMENT_RULE,
                    N_("Eligibility condition not met: %(condition)s (this line: %(actual)s)."),
                    {"condition": failed.described, "actual": failed.actual},
                    failed.node,
                )
            )
    return reasons


def _product_reasons(offer: OfferTerms, line: Line, catalog: Mapping[str, Product]) -> list[Reason]:
    reasons: list[Reason] = []
    held = {h.product.code for h in line.holdings} | {line.plan_code}
    sells = offer.action in (ProductAction.NEW, ProductAction.CROSS_SELL)
    for code in offer.product_codes:
        product = catalog.get(code)
        if product is None or not product.on_sale or product.monthly_fee_fen is None:
            reasons.append(
                Reason(
                    ReasonCode.PRODUCT_UNAVAILABLE,
                    N_("Product %(product)s is not on sale today."),
                    {"product": code},
                )
            )
            continue
        if (
            product.payment_type is not PaymentType.ANY
            and product.payment_type != line.payment_type
        ):
            reasons.append(
                Reason(
                    ReasonCode.PAYMENT_TYPE,
                    N_("Product %(product)s is for %(required)s lines; this line is %(actual)s."),
                    {
                        "product": code,
                        "required": product.payment_type.value,
                        "actual": line.payment_type,
                    },
                )
            )
        if sells and code in held:
            reasons.append(
                Reason(
                    ReasonCode.ALREADY_HOLDS,
                    N_("The line already holds %(product)s."),
                    {"product": code},
                )
            )
    return reasons


def _fee_params(target: Product, line: Line) -> dict[str, object]:
    current = line.plan.monthly_fee_fen if line.plan is not None else None
    return {
        "product": target.code,
        "new_fee": yuan(target.monthly_fee_fen or 0),
        "new_fee_fen": target.monthly_fee_fen,
        "plan": line.plan_code,
        "fee": "—" if current is None else yuan(current),
        "fee_fen": current,
    }


def _plan_move_reasons(
    offer: OfferTerms, line: Line, catalog: Mapping[str, Product], today: date
) -> list[Reason]:
    """Upgrade and lock-in: both judge the plan the offer moves the line to."""
    target = main_product(offer, catalog)
    if offer.action is ProductAction.UPGRADE and target is None:
        # No plan among its products: an upgrade is judged on its dearest product.
        priced = [p for c in offer.product_codes if (p := catalog.get(c)) is not None]
        target = max(priced, key=lambda p: p.monthly_fee_fen or 0) if priced else None
    if target is None or target.monthly_fee_fen is None:
        return []  # nothing priced to move to: product_unavailable already says so
    current = line.plan.monthly_fee_fen if line.plan is not None else None
    reasons: list[Reason] = []
    if offer.action is ProductAction.UPGRADE:
        if current is None:
            reasons.append(
                Reason(
                    ReasonCode.NOT_UPGRADE,
                    N_(
                        "The current plan %(plan)s has no price today, "
                        "so an upgrade cannot be shown."
                    ),
                    {"plan": line.plan_code},
                )
            )
        elif target.monthly_fee_fen <= current:
            reasons.append(
                Reason(
                    ReasonCode.NOT_UPGRADE,
                    N_(
                        "Not an upgrade: %(product)s costs %(new_fee)s a month, "
                        "the current plan %(plan)s %(fee)s."
                    ),
                    _fee_params(target, line),
                )
            )
    if offer.action is ProductAction.WIN_BACK or target.kind not in PLAN_KINDS:
        return reasons
    until = lock_in_until(line, today)
    if until is None:
        return reasons
    leaves_bundle = (
        line.plan is not None
        and line.plan.kind is ProductKind.BUNDLE
        and target.kind is not ProductKind.BUNDLE
    )
    if leaves_bundle:
        reasons.append(
            Reason(
                ReasonCode.LOCK_IN,
                N_(
                    "Under lock-in until %(until)s: "
                    "the line cannot leave bundle %(plan)s for %(product)s."
                ),
                {**_fee_params(target, line), "until": until.isoformat()},
            )
        )
    elif current is not None and target.monthly_fee_fen < current:
        reasons.append(
            Reason(
                ReasonCode.LOCK_IN,
                N_(
                    "Under lock-in until %(until)s: "
                    "the line cannot move to a lower monthly fee (%(new_fee)s < %(fee)s)."
                ),
                {**_fee_params(target, line), "until": until.isoformat()},
            )
        )
    return reasons


def _handset_reasons(offer: OfferTerms, line: Line, catalog: Mapping[str, Product]) -> list[Reason]:
    sells_handset = any(
        (p := catalog.get(code)) is not None and p.kind is ProductKind.HANDSET_CONTRACT
        for code in offer.product_codes
    )
    if not sells_handset:
        return []
    held = [h.product.code for h in line.holdings if h.product.kind is ProductKind.HANDSET_CONTRACT]
    held += [o.code for o in line.held_offers if o.handset and o.code != offer.code]
    return [
        Reason(
            ReasonCode.HANDSET_CONTRACT_HELD,
            N_("The line already holds handset contract %(held)s: one handset contract at a time."),
            {"held": code},
        )
        for code in held
    ]


def _exclusion_reasons(offer: OfferTerms, line: Line) -> list[Reason]:
    reasons: list[Reason] = []
    if any(o.code == offer.code for o in line.held_offers):
        reasons.append(
            Reason(ReasonCode.HOLDS_OFFER, N_("The subscriber already holds this offer."))
        )
    held = {o.code: o.excludes for o in line.held_offers}
    for other, by_held in conflicting_offers(offer.code, offer.excludes, held):
        message = (
            N_("The subscriber holds offer %(held)s, which excludes this offer.")
            if by_held
            else N_("This offer excludes offer %(held)s, which the subscriber holds.")
        )
        reasons.append(Reason(ReasonCode.EXCLUDED_BY_OFFER, message, {"held": other}))
    return reasons


def explain(
    offer: OfferTerms,
    line: Line,
    catalog: Mapping[str, Product],
    *,
    today: date,
    rule: RuleOutcome | None = None,
) -> list[Reason]:
    """Every reason the line may not take ``offer`` on ``today``; empty: it is eligible.

    ``catalog`` holds the offer's products (by code); ``rule`` is the offer's
    eligibility rule evaluated for the line (None: the offer has no rule).
    """
    return [
        *_offer_reasons(offer, today),
        *_line_status_reasons(offer, line),
        *_rule_reasons(rule),
        *_product_reasons(offer, line, catalog),
        *_plan_move_reasons(offer, line, catalog, today),
        *_handset_reasons(offer, line, catalog),
        *_exclusion_reasons(offer, line),
    ]


def rank(results: Iterable[tuple[str, Sequence[Reason]]]) -> list[tuple[str, list[Reason]]]:
    """Eligible offers first, then excluded ones, each by code."""
    return sorted(((c, list(r)) for c, r in results), key=lambda item: (bool(item[1]), item[0]))
