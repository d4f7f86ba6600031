"""Case evaluation rules on hand-made counts: cost, revenue, guardrails, Holm, the projection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from telmark.evaluation.cases import domain
from telmark.evaluation.cases.domain import (
    CellCounts,
    CostPart,
    Dimension,
    GroupCounts,
    OfferPrice,
    Plan,
    Pricing,
)

PRICING = Pricing(
    horizon_months=12,
    offers={
        "A": OfferPrice(net_incentive_cost_fen=2_000, incremental_monthly_revenue_fen=3_000,
                        channel_cost_fen_per_month=100),
        "B": OfferPrice(net_incentive_cost_fen=500, incremental_monthly_revenue_fen=800,
                        channel_cost_fen_per_month=0),
    },
    contact_cost_fen={("A", "sms"): 5, ("B", "outbound"): 300},
)  # fmt: skip


def group(
    exposed: int, responders: int, revenue: list[int] | None = None, **guards: int
) -> GroupCounts:
    values = revenue or [3_000] * responders
    return GroupCounts(
        exposed=exposed,
        responders=responders,
        guardrails=guards,
        revenue_sum_fen=sum(values),
        revenue_sumsq=sum(v * v for v in values),
    )


def test_cost_prices_every_contact_and_every_treated_taker() -> None:
    parts = [CostPart("A", "sms", contacts=1_000, takers=80), CostPart("B", "outbound", 200, 10)]
    cost = domain.cost(parts, PRICING)
    assert cost.incentive_fen == 80 * 2_000 + 10 * 500
    assert cost.contact_fen == 1_000 * 5 + 200 * 300
    assert cost.commission_fen == 80 * 100 * 12
    assert cost.total_fen == cost.incentive_fen + cost.contact_fen + cost.commission_fen
    # An offer or line the projection did not price costs nothing rather than failing.
    assert domain.cost([CostPart("Z", "email", 50, 5)], PRICING).total_fen == 0


def test_revenue_is_the_difference_of_means_over_the_horizon() -> None:
    cell = CellCounts(None, group(1_000, 100), group(500, 20))
    gain = domain.revenue(cell, 12)
    per = 3_000 * (100 / 1_000 - 20 / 500)
    assert gain.per_subscriber_fen == pytest.approx(per)
    assert gain.total_fen == round(per * 1_000 * 12)
    assert gain.total_low_fen < gain.total_fen < gain.total_high_fen  # type: ignore[operator]
    # One exposed subscriber has no variance: no interval rather than a made-up one.
    assert domain.revenue(CellCounts(None, group(1, 1), group(500, 20)), 12).total_fen is None


def test_the_variance_stays_exact_at_ten_million() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(-5_000, 20_000, 10_000_000)
    g = GroupCounts(len(values), 0, {}, int(values.sum()), int((values * values).sum()))
    mean, variance = domain._moments(g)  # type: ignore[misc]
    assert mean == pytest.approx(values.mean())
    assert variance == pytest.approx(values.var(ddof=1), rel=1e-12)


def test_a_significant_rise_of_a_guardrail_is_harm_and_a_fall_is_not() -> None:
    rise = CellCounts(None, group(5_000, 300, complaint=90), group(5_000, 200, complaint=30))
    fall = CellCounts(None, group(5_000, 300, opt_out=10), group(5_000, 200, opt_out=60))
    by_kind = {
        g.kind: g for g in domain.evaluate_cell(rise, pricing=None, horizon_months=12).guardrails
    }
    assert by_kind["complaint"].harmful
    assert not by_kind["port_out"].harmful  # none in either group
    fell = {
        g.kind: g for g in domain.evaluate_cell(fall, pricing=None, horizon_months=12).guardrails
    }
    assert fell["opt_out"].comparison.significant
    assert not fell["opt_out"].harmful


def test_breakdown_p_values_are_holm_adjusted_across_keys() -> None:
    cells = [
        CellCounts("C01", group(2_000, 160), group(1_000, 50)),
        CellCounts("C02", group(2_000, 110), group(1_000, 50)),
        CellCounts("C03", group(2_000, 100), group(1_000, 50)),
    ]
    breakdown = domain.evaluate_breakdown(Dimension.CITY, cells, pricing=None, horizon_months=12)
    raw = [c.comparison.p_value for c in breakdown.cells]
    adjusted = [c.comparison.p_adjusted for c in breakdown.cells]
    assert all(a >= r for a, r in zip(adjusted, raw, strict=True))  # type: ignore[operator]
    smallest = min(range(3), key=lambda i: raw[i])  # type: ignore[arg-type,return-value]
    assert adjusted[smallest] == pytest.approx(3 * raw[smallest])  # type: ignore[operator]
    assert breakdown.cells[0].comparison.significant
    assert not breakdown.cells[2].comparison.significant  # no uplift at all


def test_projection_against_actual_adds_up_exactly() -> None:
    plan = Plan(contacts=10_000, control=2_500, takers=800, revenue_fen=800 * 3_000 * 12,
                cost_fen=900_000, net_fen=800 * 3_000 * 12 - 900_000, roi_bp=None,
                horizon_months=12)  # fmt: skip
    counts = CellCounts(
        None, group(9_000, 600), group(2_400, 96),
        costs=(CostPart("A", "sms", contacts=9_000, takers=600),),
    )  # fmt: skip
    overall = domain.evaluate_cell(counts, pricing=PRICING, horizon_months=12)
    result = domain.compare_projection(plan, overall)
    parts = {e.part: e.fen for e in result.effects}
    assert result.actual_net_fen is not None
    assert sum(v or 0 for v in parts.values()) == result.actual_net_fen - plan.net_fen
    # Fewer reached than planned: the size part is a loss, at the planned take-up and value.
    assert parts["size"] == round((9_000 - 10_000) * 0.08 * 3_000 * 12)
    # The measured uplift (6.67 − 4 points) is below the expected take-up of 8 %.
    assert parts["take_up"] is not None
    assert parts["take_up"] < 0
    assert parts["cost"] == -(overall.cost.total_fen - 900_000)  # type: ignore[union-attr]
    assert result.actual_uplift == pytest.approx(600 / 9_000 - 96 / 2_400)


def test_the_frozen_projection_gives_the_plan_and_prices() -> None:
    assert domain.plan_from_projection({"available": False}) is None
    found = domain.plan_from_projection(
        {"available": True, "horizon_months": 6, "control": 100,
         "totals": {"contacts": 900, "takers": 90, "incremental_revenue_fen": 1_000,
                    "retained_revenue_fen": 500, "cost_fen": 700, "net_fen": 800, "roi_bp": 11_429},
         "lines": [{"offer_code": "A", "channel": "sms", "contacts": 900,
                    "contact_cost_fen": 4_500}],
         "offers": [{"offer_code": "A", "net_incentive_cost_fen": 10,
                     "incremental_monthly_revenue_fen": 20, "channel_cost_fen_per_month": 0}]}
    )  # fmt: skip
    assert found is not None
    plan, pricing = found
    assert (plan.contacts, plan.control, plan.revenue_fen, plan.horizon_months) == (
        900,
        100,
        1_500,
        6,
    )
    assert pricing.contact_cost_fen == {("A", "sms"): 5}
    lines = [{"offer_code": "A", "channel": "sms", "contact_cost_fen": 7}]
    assert domain.with_line_costs(pricing, lines).contact_cost_fen == {("A", "sms"): 7}


def test_cumulative_curve_and_overdue() -> None:
    curve = domain.cumulative_curve(
        {"treatment": {0: 1, 2: 3}, "control": {1: 1}}, {"treatment": 10, "control": 5}, days=3
    )
    assert [(p.day, p.treatment, p.control) for p in curve] == [
        (0, 0.1, 0.0), (1, 0.1, 0.2), (2, 0.4, 0.2), (3, 0.4, 0.2),
    ]  # fmt: skip
    done = datetime(2026, 11, 1, tzinfo=UTC)
    assert not domain.overdue(done, done + timedelta(days=30), days=30)
    assert domain.overdue(done, done + timedelta(days=30, seconds=1), days=30)
