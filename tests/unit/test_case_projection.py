"""Revenue projection of a case, against numbers worked out by hand."""

from __future__ import annotations

import pytest

from telmark.cases.projection import Line, OfferTerms, RetentionBasis, project
from telmark.errors import InvalidInput

# Per taker: 3,000 fen incentive; 2,500 fen/month revenue, 250 fen/month to the channel.
TERMS = {"A": OfferTerms(3_000, 2_500, 250), "B": OfferTerms(0, 1_000, 0)}


def test_one_line_by_hand() -> None:
    p = project(
        members=10_000,
        holdout_bp=1_000,
        horizon_months=12,
        lines=[Line("A", "sms", 10_000, 500, 5)],
        offers=TERMS,
    )
    # control 1,000; targets 9,000; contacts 9,000; takers 450
    assert (p.control, p.targets) == (1_000, 9_000)
    t = p.totals
    assert (t.contacts, t.takers) == (9_000, 450)
    assert t.incentive_cost_fen == 1_350_000  # 450 × 3,000
    assert t.incremental_revenue_fen == 13_500_000  # 450 × 2,500 × 12
    assert t.channel_cost_fen == 45_000 + 1_350_000  # 9,000 × 5 + 450 × 250 × 12
    assert t.cost_fen == 2_745_000
    assert t.net_fen == 10_755_000
    assert t.roi_bp == 39_180  # 10,755,000 / 2,745,000 = 3.9180…
    # one-off 1,395,000; monthly net 450 × 2,250 = 1,012,500 → paid back in month 2
    assert t.payback_month == 2
    assert [m.cumulative_net_fen for m in p.series[:2]] == [-382_500, 630_000]
    assert p.series[-1].cumulative_net_fen == t.net_fen
    assert not p.retention_applied


def test_two_lines_and_rounding_half_up() -> None:
    p = project(
        members=333,
        holdout_bp=500,  # control 16.65 → 17
        horizon_months=3,
        lines=[Line("A", "sms", 6_000, 1_250, 5), Line("B", "outbound_call", 4_000, 2_000, 200)],
        offers=TERMS,
    )
    assert (p.control, p.targets) == (17, 316)
    a, b = p.lines
    assert (a.contacts, a.takers) == (190, 24)  # 189.6 → 190; 23.75 → 24
    assert (b.contacts, b.takers) == (126, 25)  # 126.4 → 126; 25.2 → 25
    assert p.totals.incremental_revenue_fen == 3 * (24 * 2_500 + 25 * 1_000)


def test_retention_adds_retained_revenue() -> None:
    p = project(
        members=1_000,
        holdout_bp=0,
        horizon_months=6,
        lines=[Line("B", "sms", 10_000, 1_000, 0)],
        offers=TERMS,
        retention=RetentionBasis(churn_probability_bp=2_500, arpu_fen=6_000),
    )
    # 100 takers × 25 % × 6,000 fen = 150,000 fen a month kept
    assert p.totals.retained_revenue_fen == 6 * 150_000
    assert p.totals.net_fen == 6 * 100_000 + 6 * 150_000
    assert p.retention_applied


def test_sensitivity_scales_take_up() -> None:
    p = project(
        members=10_000,
        holdout_bp=0,
        horizon_months=12,
        lines=[Line("A", "sms", 10_000, 8_000, 0)],
        offers=TERMS,
    )
    by_factor = {row.take_up_factor_bp: row.totals.takers for row in p.sensitivity}
    # 50 % → 4,000; 100 % → 8,000; 150 % would be 120 % take-up, capped at 100 %
    assert by_factor == {5_000: 4_000, 7_500: 6_000, 10_000: 8_000, 12_500: 10_000, 15_000: 10_000}
    assert next(r for r in p.sensitivity if r.take_up_factor_bp == 10_000).totals == p.totals


def test_nothing_spent_has_no_roi_and_never_pays_back_when_losing() -> None:
    free = project(members=10, holdout_bp=0, horizon_months=1, lines=[], offers=TERMS)
    assert free.totals.roi_bp is None
    assert free.totals.payback_month == 0
    losing = project(
        members=100,
        holdout_bp=0,
        horizon_months=12,
        lines=[Line("A", "sms", 10_000, 10_000, 0)],
        offers={"A": OfferTerms(1_000, 100, 100)},
    )
    assert losing.totals.payback_month is None
    # cost 100 × 1,000 + 12 × 100 × 100 = 220,000; net 120,000 − 220,000 = −100,000
    assert losing.totals.roi_bp == -4_545  # −0.45454…


def test_bad_lines_name_the_field() -> None:
    with pytest.raises(InvalidInput) as error:
        project(
            members=10,
            holdout_bp=0,
            horizon_months=1,
            lines=[
                Line("X", "sms", 10_001, 0, -1),
                Line("A", "sms", 6_000, 0, 0),
                Line("A", "app_push", 6_000, 0, 0),
            ],  # fmt: skip
            offers=TERMS,
        )
    fields = [d["field"] for d in error.value.details]
    assert fields == [
        "lines[0].offer_code",
        "lines[0].reach_bp",
        "lines[0].contact_cost_fen",
        "lines",  # offer X reaches more than everyone
        "lines",  # offer A reaches 120 % over its two channels
    ]
