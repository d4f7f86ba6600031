"""Pure offer rules: statuses, unit economics, payback, clawback, pools and the draw."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from telmark.errors import InvalidInput, InvalidTransition
from telmark.offers import domain
from telmark.offers.domain import (
    OfferStatus,
    PoolKind,
    PoolSpec,
    RedemptionStatus,
    clawback_fen,
    draw_number,
    draw_outcome,
    economics,
    payback_months,
    pick_prize,
    pool_specs,
    prize_takes,
    required_takes,
)
from telmark.offers.tools import NO_PRIZE, AnyTool, Lottery, Subsidy, Tool

TOOLS: TypeAdapter[list[AnyTool]] = TypeAdapter(list[Tool])


def test_offer_status_machine() -> None:
    assert domain.transition(OfferStatus.DRAFT, OfferStatus.ACTIVE) is OfferStatus.ACTIVE
    assert domain.transition(OfferStatus.DRAFT, OfferStatus.RETIRED) is OfferStatus.RETIRED
    assert domain.transition(OfferStatus.ACTIVE, OfferStatus.RETIRED) is OfferStatus.RETIRED
    for current, to in [
        (OfferStatus.ACTIVE, OfferStatus.DRAFT),
        (OfferStatus.ACTIVE, OfferStatus.ACTIVE),
        (OfferStatus.RETIRED, OfferStatus.ACTIVE),
        (OfferStatus.RETIRED, OfferStatus.DRAFT),
    ]:
        with pytest.raises(InvalidTransition):
            domain.transition(current, to)
    with pytest.raises(InvalidTransition):
        domain.redemption_transition(RedemptionStatus.CONSUMED, RedemptionStatus.RELEASED)
    with pytest.raises(InvalidTransition):
        domain.redemption_transition(RedemptionStatus.RELEASED, RedemptionStatus.CONSUMED)


def test_economics_worked_example() -> None:
    tools = TOOLS.validate_python(
        [
            {"tool": "subsidy", "amount_fen": 60_000},
            {"tool": "leverage", "partner": "厂商", "benefit": "耳机", "benefit_value_fen": 10_000,
             "partner_share_bp": 5_000},
        ]
    )  # fmt: skip
    result = economics(
        tools,
        incremental_monthly_revenue_fen=9_900,
        channel_cost_share_bp=1_000,
        co_funding_bp=3_000,
    )
    assert result.incentive_cost_fen == 70_000
    # Partner pays half the co-branded benefit and the maker 30 % of the subsidy.
    assert result.partner_funded_fen == 5_000 + 18_000
    assert result.net_incentive_cost_fen == 47_000
    assert result.channel_cost_fen_per_month == 990
    assert result.net_monthly_contribution_fen == 8_910
    assert result.payback_months == 6  # 47000 / 8910 = 5.27 → 6 whole months


def test_payback_edges() -> None:
    assert payback_months(0, 0) == 0
    assert payback_months(1_000, 1_000) == 1
    assert payback_months(1_001, 1_000) == 2
    assert payback_months(1_000, 0) is None
    assert payback_months(1_000, -5) is None


def test_economics_refuses_out_of_range_shares() -> None:
    with pytest.raises(InvalidInput, match="co_funding_bp"):
        economics([], incremental_monthly_revenue_fen=1, channel_cost_share_bp=0, co_funding_bp=-1)
    with pytest.raises(InvalidInput, match="incremental_monthly_revenue_fen"):
        economics([], incremental_monthly_revenue_fen=-1, channel_cost_share_bp=0, co_funding_bp=0)


@given(
    revenue=st.integers(0, 10**6),
    channel=st.integers(0, 10_000),
    co=st.integers(0, 10_000),
    amount=st.integers(1, 10**6),
)
def test_economics_invariants(revenue: int, channel: int, co: int, amount: int) -> None:
    tools = TOOLS.validate_python([{"tool": "subsidy", "amount_fen": amount}])
    r = economics(
        tools, incremental_monthly_revenue_fen=revenue, channel_cost_share_bp=channel,
        co_funding_bp=co,
    )  # fmt: skip
    assert 0 <= r.partner_funded_fen <= r.incentive_cost_fen
    assert r.net_incentive_cost_fen + r.partner_funded_fen == r.incentive_cost_fen
    assert 0 <= r.channel_cost_fen_per_month <= revenue
    if r.payback_months is not None and r.net_incentive_cost_fen > 0:
        # Paid back within the months, and not a month earlier.
        assert r.payback_months * r.net_monthly_contribution_fen >= r.net_incentive_cost_fen
        assert (r.payback_months - 1) * r.net_monthly_contribution_fen < r.net_incentive_cost_fen


def test_clawback() -> None:
    subsidy = Subsidy.model_validate(
        {"tool": "subsidy", "amount_fen": 60_000, "clawback": {"months": 24, "pro_rata": True}}
    )
    assert clawback_fen(subsidy, months_served=0) == 60_000
    assert clawback_fen(subsidy, months_served=6) == 45_000
    assert clawback_fen(subsidy, months_served=7) == 42_500
    assert clawback_fen(subsidy, months_served=24) == 0
    whole = Subsidy.model_validate(
        {"tool": "subsidy", "amount_fen": 60_000, "clawback": {"months": 12, "pro_rata": False}}
    )
    assert clawback_fen(whole, months_served=11) == 60_000
    assert clawback_fen(whole, months_served=12) == 0
    none = Subsidy.model_validate({"tool": "subsidy", "amount_fen": 100})
    assert clawback_fen(none, months_served=0) == 0
    with pytest.raises(InvalidInput):
        clawback_fen(subsidy, months_served=-1)


def _lottery() -> Lottery:
    return Lottery.model_validate(
        {"tool": "lottery", "budget_fen": 9_000, "prizes": [
            {"code": "phone", "name": "手机", "odds_ppm": 100_000, "unit_cost_fen": 3_000,
             "stock": 2},
            {"code": "coupon", "name": "券", "odds_ppm": 400_000, "unit_cost_fen": 0, "stock": 9},
        ]}
    )  # fmt: skip


def test_pools_and_takes() -> None:
    tools = TOOLS.validate_python(
        [
            {"tool": "gift", "item": "耳机", "unit_cost_fen": 1, "stock": 10},
            {"tool": "red_packet", "amount_fen": 500, "validity_days": 7,
             "total_budget_fen": 5_000},
            {"tool": "points", "amount": 100},
        ]
    ) + [_lottery()]  # fmt: skip
    assert pool_specs(tools) == [
        PoolSpec("gift", PoolKind.GIFT_STOCK, 10),
        PoolSpec("red_packet", PoolKind.RED_PACKET_BUDGET, 5_000),
        PoolSpec("lottery", PoolKind.LOTTERY_BUDGET, 9_000),
        PoolSpec("prize:phone", PoolKind.PRIZE_STOCK, 2),
        PoolSpec("prize:coupon", PoolKind.PRIZE_STOCK, 9),
    ]
    assert required_takes(tools) == {"gift": 1, "red_packet": 500}
    assert prize_takes(_lottery(), "phone") == {"prize:phone": 1, "lottery": 3_000}
    # A free prize takes nothing from the budget.
    assert prize_takes(_lottery(), "coupon") == {"prize:coupon": 1}


def test_draw_number_is_pinned() -> None:
    """The algorithm is part of the record: these values must never change."""
    assert draw_number("seed-a") == 312_201
    assert draw_number("00000000000000000000000000000000") == 758_613
    assert draw_number("测试") == 830_218
    digest = hashlib.sha256(b"telmark-lottery-v1\x00seed-a").digest()
    assert draw_number("seed-a") == int.from_bytes(digest, "big") % 1_000_000
    with pytest.raises(InvalidInput):
        draw_number("")


def test_pick_walks_the_table_in_order() -> None:
    table = [("a", 312_201), ("b", 1)]
    assert pick_prize("seed-a", table) == "b"  # number 312201 is the first outside a's range
    assert pick_prize("seed-a", [("a", 312_202)]) == "a"
    assert pick_prize("seed-a", [("a", 100)]) == NO_PRIZE
    assert draw_outcome("a", stock_granted=True) == "a"
    assert draw_outcome("a", stock_granted=False) == NO_PRIZE
    assert draw_outcome(NO_PRIZE, stock_granted=True) == NO_PRIZE


@given(st.text(min_size=1, max_size=40))
def test_draw_is_a_pure_function_of_the_seed(seed: str) -> None:
    table = [(p.code, p.odds_ppm) for p in _lottery().prizes]
    assert pick_prize(seed, table) == pick_prize(seed, list(table))


def test_draw_frequencies_follow_the_odds() -> None:
    table = [(p.code, p.odds_ppm) for p in _lottery().prizes]
    counts = Counter(pick_prize(f"s{i}", table) for i in range(20_000))
    # 10 % / 40 % / 50 %, within ~5 standard deviations for 20 000 draws.
    assert abs(counts["phone"] - 2_000) < 220
    assert abs(counts["coupon"] - 8_000) < 360
    assert abs(counts[NO_PRIZE] - 10_000) < 360
