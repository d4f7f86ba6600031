"""The nine tools: validation with field paths, and each tool's expected cost per taker."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from telmark.errors import InvalidInput
from telmark.offers.schemas import parse_offer
from telmark.offers.tools import (
    AnyTool,
    Bundle,
    Gift,
    Leverage,
    Lottery,
    Membership,
    Points,
    RedPacket,
    Referral,
    Subsidy,
    Tool,
    round_half_up,
)
from tests._factories.offers import offer_doc

TOOLS: TypeAdapter[AnyTool] = TypeAdapter(Tool)


def tool(data: dict[str, Any]) -> AnyTool:
    return TOOLS.validate_python(data)


def test_each_tool_parses_to_its_class_and_costs_in_whole_fen() -> None:
    cases: list[tuple[dict[str, Any], type[Any], int]] = [
        ({"tool": "gift", "item": "耳机", "unit_cost_fen": 2_000, "stock": 5}, Gift, 2_000),
        ({"tool": "points", "amount": 1_234, "fen_per_100_points": 50}, Points, 617),
        (
            {"tool": "points", "multiplier_bp": 15_000, "base_points_per_month": 81, "months": 3},
            Points,
            122,  # 81 * 3 * 0.5 = 121.5 extra points at a fen each, half up
        ),
        ({"tool": "subsidy", "amount_fen": 60_000}, Subsidy, 60_000),
        (
            {"tool": "red_packet", "amount_fen": 5_000, "validity_days": 30,
             "total_budget_fen": 100_000, "expected_use_bp": 8_500},
            RedPacket,
            4_250,
        ),
        (
            {"tool": "membership", "tier": "gold", "months": 3, "monthly_benefit_cost_fen": 800},
            Membership,
            2_400,
        ),
        (
            {"tool": "membership", "tier": "vip", "trial_days": 7,
             "monthly_benefit_cost_fen": 1000},
            Membership,
            233,  # 7/30 of 1000 = 233.3
        ),
        (
            {"tool": "leverage", "partner": "视频平台", "benefit": "月卡",
             "benefit_value_fen": 4_500, "partner_share_bp": 6_000},
            Leverage,
            4_500,
        ),
        (
            {"tool": "lottery", "budget_fen": 10_000, "prizes": [
                {"code": "a", "name": "手机", "odds_ppm": 200, "unit_cost_fen": 159_900,
                 "stock": 1},
                {"code": "b", "name": "券", "odds_ppm": 300_000, "unit_cost_fen": 500, "stock": 9},
            ]},
            Lottery,
            182,  # (200*159900 + 300000*500) / 1e6 = 181.98
        ),
        (
            {"tool": "bundle", "components": ["PL5G099", "BB300"], "discount_fen_per_month": 2_000,
             "months": 12},
            Bundle,
            24_000,
        ),
        (
            {"tool": "referral", "referrer_reward_fen": 2_000, "referee_reward_fen": 1_000,
             "cap_per_referrer": 5},
            Referral,
            3_000,
        ),
    ]  # fmt: skip
    for data, cls, cost in cases:
        parsed = tool(data)
        assert isinstance(parsed, cls)
        assert parsed.expected_cost_fen() == cost, data


def test_leverage_partner_share_and_referral_cap() -> None:
    lev = tool(
        {"tool": "leverage", "partner": "p", "benefit": "b", "benefit_value_fen": 4_501,
         "partner_share_bp": 5_000}
    )  # fmt: skip
    assert isinstance(lev, Leverage)
    assert lev.partner_funded_fen() == 2_251  # 2250.5 rounds half up
    ref = tool(
        {"tool": "referral", "referrer_reward_fen": 2_000, "referee_reward_fen": 0,
         "cap_per_referrer": 5}
    )  # fmt: skip
    assert isinstance(ref, Referral)
    assert ref.max_referrer_earning_fen() == 10_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tool": "gift", "item": "x", "unit_cost_fen": -1, "stock": 5}, "greater than or equal"),
        ({"tool": "gift", "item": "x", "unit_cost_fen": 1.5, "stock": 5}, "valid integer"),
        ({"tool": "points"}, "exactly one of amount or multiplier_bp"),
        ({"tool": "points", "multiplier_bp": 20_000}, "needs base_points_per_month"),
        ({"tool": "points", "multiplier_bp": 10_000, "base_points_per_month": 1, "months": 1},
         "greater than 10000"),
        ({"tool": "red_packet", "amount_fen": 500, "validity_days": 3, "total_budget_fen": 100},
         "cover at least one packet"),
        ({"tool": "membership", "tier": "non_member", "months": 1, "monthly_benefit_cost_fen": 1},
         "'star', 'gold' or 'vip'"),
        ({"tool": "membership", "tier": "gold", "months": 1, "trial_days": 7,
          "monthly_benefit_cost_fen": 1}, "exactly one of months"),
        ({"tool": "leverage", "partner": "p", "benefit": "b", "benefit_value_fen": 1,
          "partner_share_bp": 10_001}, "less than or equal to 10000"),
        ({"tool": "bundle", "components": ["A", "A"], "discount_fen_per_month": 1, "months": 1},
         "different products"),
        ({"tool": "hammer"}, "does not match any of the expected tags"),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        tool(data)


def test_lottery_table_rules() -> None:
    prize = {"name": "p", "unit_cost_fen": 1, "stock": 1}
    with pytest.raises(ValidationError, match="add up to more than"):
        tool({"tool": "lottery", "budget_fen": 1, "prizes": [
            {**prize, "code": "a", "odds_ppm": 600_000},
            {**prize, "code": "b", "odds_ppm": 400_001},
        ]})  # fmt: skip
    with pytest.raises(ValidationError, match="unique"):
        tool({"tool": "lottery", "budget_fen": 1, "prizes": [
            {**prize, "code": "a", "odds_ppm": 1}, {**prize, "code": "a", "odds_ppm": 1},
        ]})  # fmt: skip
    with pytest.raises(ValidationError, match="no-prize outcome"):
        tool({"tool": "lottery", "budget_fen": 1, "prizes": [
            {**prize, "code": "no_prize", "odds_ppm": 1},
        ]})  # fmt: skip
    full = tool({"tool": "lottery", "budget_fen": 1, "prizes": [
        {**prize, "code": "a", "odds_ppm": 250_000},
    ]})  # fmt: skip
    assert isinstance(full, Lottery)
    assert full.no_prize_ppm() == 750_000


def test_offer_errors_name_the_field_path() -> None:
    doc = offer_doc(
        "X1",
        {"tool": "gift", "item": "耳机", "unit_cost_fen": 100, "stock": 1},
        {"tool": "lottery", "budget_fen": 1, "prizes": [
            {"code": "a", "name": "p", "odds_ppm": 0, "unit_cost_fen": 1, "stock": 1},
        ]},
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        parse_offer(doc, source="offer.yaml")
    assert caught.value.message.startswith("offer.yaml: tools[1].prizes[0].odds_ppm:")
    assert caught.value.details[0]["field"] == "tools[1].prizes[0].odds_ppm"


def test_offer_document_rules() -> None:
    with pytest.raises(InvalidInput, match="each tool may appear once"):
        parse_offer(offer_doc("X", {"tool": "subsidy", "amount_fen": 1},
                              {"tool": "subsidy", "amount_fen": 2}))  # fmt: skip
    with pytest.raises(InvalidInput, match="cannot exclude itself"):
        parse_offer(offer_doc("X", excludes=["X"]))
    with pytest.raises(InvalidInput, match="valid_to: must not be before valid_from"):
        parse_offer(offer_doc("X", valid_from="2026-02-01", valid_to="2026-01-31"))
    with pytest.raises(InvalidInput, match=r"economics.channel_cost_share_bp"):
        parse_offer(offer_doc("X", economics={"incremental_monthly_revenue_fen": 1,
                                              "channel_cost_share_bp": 20_000}))  # fmt: skip
    with pytest.raises(InvalidInput, match=r"^offer: action:"):
        parse_offer(offer_doc("X", action="downgrade"))


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10**7))
def test_round_half_up_is_nearest_with_halves_up(numerator: int, denominator: int) -> None:
    result = round_half_up(numerator, denominator)
    # |n/d - result| <= 1/2, and exactly 1/2 only when rounding up.
    assert abs(2 * numerator - 2 * result * denominator) <= denominator
    if 2 * numerator - 2 * result * denominator == denominator:
        raise AssertionError("a half was rounded down")


@given(
    st.lists(st.tuples(st.integers(1, 200_000), st.integers(0, 1_000_000)), min_size=1, max_size=6)
)
def test_lottery_cost_never_exceeds_the_dearest_prize(pairs: list[tuple[int, int]]) -> None:
    total = sum(o for o, _ in pairs)
    if total > 1_000_000:
        return
    lot = tool({"tool": "lottery", "budget_fen": 1, "prizes": [
        {"code": f"p{i}", "name": "p", "odds_ppm": o, "unit_cost_fen": c, "stock": 1}
        for i, (o, c) in enumerate(pairs)
    ]})  # fmt: skip
    assert 0 <= lot.expected_cost_fen() <= max(c for _, c in pairs)


def test_demo_offers_cover_every_tool_with_products_on_sale() -> None:
    from datetime import date

    from telmark.offers.seed import examples
    from telmark.offers.tools import Bundle as BundleTool
    from telmark.warehouse.generator.catalog import PRODUCTS

    on_sale = {p.product_id for p in PRODUCTS if p.retired_days_ago is None}
    specs = examples(date(2026, 11, 26))
    assert {t.tool for s in specs for t in s.tools} == {
        "gift", "points", "subsidy", "red_packet", "membership", "leverage", "lottery",
        "bundle", "referral",
    }  # fmt: skip
    used = {c for s in specs for c in s.product_codes} | {
        c for s in specs for t in s.tools if isinstance(t, BundleTool) for c in t.components
    }
    assert used <= on_sale, used - on_sale
    # Exclusions name offers defined earlier in the list (they must exist when created).
    seen: set[str] = set()
    for spec in specs:
        assert set(spec.excludes) <= seen, spec.code
        seen.add(spec.code)
