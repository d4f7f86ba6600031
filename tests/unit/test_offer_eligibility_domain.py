"""The eligibility rules, pure: lock-in, bundles, handset contracts, exclusion, upgrades."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from telmark.catalog.domain import PaymentType, ProductKind
from telmark.offers.domain import OfferStatus, ProductAction
from telmark.offers.eligibility.domain import (
    FailedCondition,
    HeldOffer,
    Holding,
    Line,
    LineStatus,
    OfferTerms,
    Product,
    ReasonCode,
    RuleOutcome,
    add_months,
    conflicting_offers,
    explain,
    lock_in_until,
    rank,
)

TODAY = date(2026, 11, 26)


def _p(code: str, kind: ProductKind, fee: int, pay: PaymentType = PaymentType.ANY) -> Product:
    return Product(code=code, kind=kind, payment_type=pay, on_sale=True, monthly_fee_fen=fee)


CATALOG = {
    p.code: p
    for p in (
        _p("PL5G059", ProductKind.PLAN, 5_900),
        _p("PL5G099", ProductKind.PLAN, 9_900),
        _p("PL5G239", ProductKind.PLAN, 23_900),
        _p("BD169", ProductKind.BUNDLE, 16_900),
        _p("BD239", ProductKind.BUNDLE, 23_900),
        _p("HC24", ProductKind.HANDSET_CONTRACT, 9_900),
        _p("HC12", ProductKind.HANDSET_CONTRACT, 5_800),
        _p("AD030", ProductKind.ADDON, 3_000),
        _p("CARD19", ProductKind.PLAN, 1_900, PaymentType.PREPAID),
    )
}


def _line(plan: str = "PL5G099", **changes: object) -> Line:
    line = Line(
        subscriber_id=1,
        status=LineStatus.ACTIVE,
        payment_type="postpaid",
        plan_code=plan,
        plan=CATALOG.get(plan),
        contract_end=None,
        holdings=(Holding(CATALOG[plan], date(2024, 1, 1)),) if plan in CATALOG else (),
    )
    return replace(line, **changes)  # type: ignore[arg-type]


def _offer(code: str, action: ProductAction, *products: str, **changes: object) -> OfferTerms:
    offer = OfferTerms(
        code=code,
        status=OfferStatus.ACTIVE,
        action=action,
        product_codes=products,
        valid_from=date(2026, 1, 1),
        valid_to=None,
    )
    return replace(offer, **changes)  # type: ignore[arg-type]


def _codes(offer: OfferTerms, line: Line, rule: RuleOutcome | None = None) -> list[ReasonCode]:
    return [r.code for r in explain(offer, line, CATALOG, today=TODAY, rule=rule)]


def test_an_offer_with_nothing_against_it_is_eligible() -> None:
    assert _codes(_offer("UP", ProductAction.UPGRADE, "PL5G239"), _line()) == []


def test_bundle_downgrade_under_lock_in_is_refused_and_allowed_once_it_ran_out() -> None:
    in_bundle = _line("BD169", contract_end=date(2027, 3, 31))
    leave = _offer("PLAN", ProductAction.RETENTION_DISCOUNT, "PL5G099")
    reasons = explain(leave, in_bundle, CATALOG, today=TODAY)
    assert [r.code for r in reasons] == [ReasonCode.LOCK_IN]
    assert reasons[0].params["until"] == "2027-03-31"
    assert "cannot leave bundle BD169" in reasons[0].text
    # Leaving the bundle is refused under lock-in even for a dearer plan.
    assert _codes(_offer("DEAR", ProductAction.UPGRADE, "PL5G239"), in_bundle) == [
        ReasonCode.LOCK_IN
    ]
    # A bundle of a higher fee keeps the commitment: allowed.
    assert _codes(_offer("BIG", ProductAction.UPGRADE, "BD239"), in_bundle) == []
    # The contract ended yesterday: the line may leave.
    expired = replace(in_bundle, contract_end=TODAY.replace(day=25))
    assert _codes(leave, expired) == []


def test_lock_in_refuses_a_lower_fee_but_not_a_higher_one() -> None:
    locked = _line("PL5G099", contract_end=date(2027, 1, 1))
    cheaper = _offer("CHEAP", ProductAction.RETENTION_DISCOUNT, "PL5G059")
    reasons = explain(cheaper, locked, CATALOG, today=TODAY)
    assert [r.code for r in reasons] == [ReasonCode.LOCK_IN]
    assert reasons[0].params["new_fee"] == "59.00 元"
    assert reasons[0].params["fee"] == "99.00 元"
    assert _codes(cheaper, _line("PL5G099")) == []  # no lock-in: allowed
    # Add-ons move no plan: not a downgrade whatever they cost.
    assert _codes(_offer("PACK", ProductAction.CROSS_SELL, "AD030"), locked) == []


def test_a_handset_contract_locks_in_for_its_months_from_the_start() -> None:
    started = date(2025, 6, 15)
    contract = Holding(CATALOG["HC24"], started, lock_in_months=24)
    line = replace(_line("PL5G099"), holdings=(contract,))
    assert lock_in_until(line, TODAY) == date(2027, 6, 15)
    cheaper = _offer("CHEAP", ProductAction.RETENTION_DISCOUNT, "PL5G059")
    assert _codes(cheaper, line) == [ReasonCode.LOCK_IN]
    assert lock_in_until(line, date(2027, 6, 15)) is None  # the last day has run out
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_one_handset_contract_at_a_time() -> None:
    handset = _offer("PHONE", ProductAction.NEW, "HC12")
    held = Holding(CATALOG["HC24"], date(2026, 1, 1), lock_in_months=24)
    line = replace(_line("PL5G099"), holdings=(held,))
    reasons = explain(handset, line, CATALOG, today=TODAY)
    assert [r.code for r in reasons] == [ReasonCode.HANDSET_CONTRACT_HELD]
    assert reasons[0].params == {"held": "HC24"}
    # A handset contract held through an offer counts too.
    through_offer = replace(_line(), held_offers=(HeldOffer("OLD-PHONE", frozenset(), True),))
    assert _codes(handset, through_offer) == [ReasonCode.HANDSET_CONTRACT_HELD]
    assert _codes(handset, _line()) == []


def test_mutual_exclusion_either_direction_and_holding_the_offer_itself() -> None:
    held = (HeldOffer("A", frozenset({"B"}), False), HeldOffer("C", frozenset(), False))
    line = replace(_line(), held_offers=held)
    by_held = explain(_offer("B", ProductAction.CROSS_SELL, "AD030"), line, CATALOG, today=TODAY)
    assert [(r.code, r.params) for r in by_held] == [(ReasonCode.EXCLUDED_BY_OFFER, {"held": "A"})]
    assert "holds offer A, which excludes this offer" in by_held[0].text
    by_this = explain(
        _offer("D", ProductAction.CROSS_SELL, "AD030", excludes=frozenset({"C"})),
        line,
        CATALOG,
        today=TODAY,
    )
    assert [r.text for r in by_this] == ["This offer excludes offer C, which the subscriber holds."]
    assert _codes(_offer("C", ProductAction.CROSS_SELL, "AD030"), line) == [ReasonCode.HOLDS_OFFER]
    assert conflicting_offers("B", [], {"A": ["B"], "B": ["A"]}) == [("A", True)]


def test_payment_type_and_products_already_held() -> None:
    card = _offer("CARD", ProductAction.NEW, "CARD19")
    reasons = explain(card, _line(), CATALOG, today=TODAY)
    assert [r.code for r in reasons] == [ReasonCode.PAYMENT_TYPE]
    assert reasons[0].params == {"product": "CARD19", "required": "prepaid", "actual": "postpaid"}
    prepaid = replace(_line(), payment_type="prepaid")
    assert _codes(card, prepaid) == []
    assert _codes(_offer("SAME", ProductAction.NEW, "PL5G099"), _line()) == [
        ReasonCode.ALREADY_HOLDS
    ]


def test_an_upgrade_must_raise_the_monthly_fee() -> None:
    line = _line("PL5G099")
    same = explain(_offer("SAME", ProductAction.UPGRADE, "PL5G099"), line, CATALOG, today=TODAY)
    assert [r.code for r in same] == [ReasonCode.NOT_UPGRADE]
    assert same[0].text == (
        "Not an upgrade: PL5G099 costs 99.00 元 a month, the current plan PL5G099 99.00 元."
    )
    assert _codes(_offer("UP", ProductAction.UPGRADE, "BD169"), line) == []
    unknown = _line("GONE")  # the plan is not in the catalog: an upgrade cannot be shown
    assert _codes(_offer("UP", ProductAction.UPGRADE, "BD169"), unknown) == [ReasonCode.NOT_UPGRADE]


@pytest.mark.parametrize(
    ("status", "action", "refused"),
    [
        (LineStatus.ACTIVE, ProductAction.WIN_BACK, True),
        (LineStatus.PORTED_OUT, ProductAction.WIN_BACK, False),
        (LineStatus.SUSPENDED, ProductAction.WIN_BACK, False),
        (LineStatus.TERMINATED, ProductAction.CROSS_SELL, True),
        (LineStatus.SUSPENDED, ProductAction.UPGRADE, True),
    ],
)
def test_line_status(status: LineStatus, action: ProductAction, refused: bool) -> None:
    codes = _codes(_offer("X", action, "PL5G239"), replace(_line(), status=status))
    assert (ReasonCode.LINE_STATUS in codes) is refused


def test_segment_rule_failures_are_named_and_all_reasons_are_kept() -> None:
    failed = FailedCondition(
        node={"kind": "usage", "measure": "arpu_fen", "agg": "avg", "months": 3, "op": ">=",
              "value": 5000},
        described="ARPU at least 5000",
        actual="3,800 (38.00 元)",
    )  # fmt: skip
    offer = _offer(
        "GIFT", ProductAction.UPGRADE, "PL5G059", valid_to=date(2026, 11, 1), short_pools=("gift",)
    )
    reasons = explain(offer, _line(), CATALOG, today=TODAY, rule=RuleOutcome(False, (failed,)))
    assert [r.code for r in reasons] == [
        ReasonCode.OUTSIDE_VALIDITY,
        ReasonCode.OUT_OF_STOCK,
        ReasonCode.SEGMENT_RULE,
        ReasonCode.NOT_UPGRADE,
    ]
    assert reasons[2].text == (
        "Eligibility condition not met: ARPU at least 5000 (this line: 3,800 (38.00 元))."
    )
    assert reasons[2].condition == failed.node
    error = RuleOutcome(False, error="no churn_scores")
    assert _codes(_offer("R", ProductAction.UPGRADE, "PL5G239"), _line(), error) == [
        ReasonCode.RULE_UNAVAILABLE
    ]


def test_rank_puts_eligible_offers_first() -> None:
    ranked = rank([("B", []), ("A", ["x"]), ("C", [])])  # type: ignore[list-item]
    assert [code for code, _ in ranked] == ["B", "C", "A"]
