"""Pure rules of market inputs: parsing, the 100% rule, derived shares, comparable plans."""

from __future__ import annotations

from datetime import date

import pytest

from telmark.market.domain import (
    Competitor,
    MarketInputInvalid,
    MixedShareKinds,
    OwnPlan,
    SharesExceedMarket,
    ShareSpec,
    check_city_month,
    comparable_plan,
    offer_from_text,
    parse_month,
    share_from_text,
    shares_of_month,
)

MAY = date(2026, 5, 1)


def share(competitor: Competitor, bp: int | None = None, subs: int | None = None) -> ShareSpec:
    return ShareSpec("C01", MAY, competitor, share_bp=bp, subscribers=subs)


def test_shares_of_a_city_month_may_reach_but_not_pass_100_percent() -> None:
    check_city_month([share(Competitor.CHINA_UNICOM, 6000), share(Competitor.CHINA_TELECOM, 4000)])
    with pytest.raises(SharesExceedMarket, match=r"C01 2026-05: the shares add up to 100\.01%"):
        check_city_month(
            [share(Competitor.CHINA_UNICOM, 6000), share(Competitor.CHINA_TELECOM, 4001)]
        )


def test_shares_and_estimates_cannot_be_mixed_in_one_city_month() -> None:
    with pytest.raises(MixedShareKinds):
        check_city_month(
            [share(Competitor.CHINA_UNICOM, 3000), share(Competitor.CHINA_TELECOM, subs=9000)]
        )
    # Estimates alone have no 100% rule: the market size follows from them.
    check_city_month([share(Competitor.CHINA_UNICOM, subs=10**9)])


def test_estimates_give_shares_of_own_plus_estimates_rounded_half_up() -> None:
    entries = [share(Competitor.CHINA_UNICOM, subs=300), share(Competitor.CHINA_TELECOM, subs=100)]
    shown = shares_of_month(MAY, entries, own=600)
    assert shown.market_size == 1000
    assert shown.own_bp == 6000
    assert shown.by_competitor == {Competitor.CHINA_UNICOM: 3000, Competitor.CHINA_TELECOM: 1000}
    odd = shares_of_month(MAY, [share(Competitor.OTHER, subs=1)], own=2)  # 1/3, 2/3
    assert (odd.by_competitor[Competitor.OTHER], odd.own_bp) == (3333, 6667)
    # Entered shares are shown as entered, and no own share is invented.
    entered = shares_of_month(MAY, [share(Competitor.CHINA_UNICOM, 2750)], own=600)
    assert (entered.by_competitor, entered.own_bp) == ({Competitor.CHINA_UNICOM: 2750}, None)
    # Without our own subscriber count, estimates cannot be turned into shares.
    assert shares_of_month(MAY, entries, own=None).by_competitor == {}


def test_offer_rows_are_parsed_and_every_bad_field_named() -> None:
    offer = offer_from_text(
        {
            "competitor": "china_unicom",
            "name": " 畅爽冰激凌 ",
            "monthly_fee_fen": "12900",
            "data_mb": "",
            "is_5g": "是",
            "launched_on": "2026/3/1",
        },
        province_code="P00",
    )
    assert (offer.org_code, offer.name) == ("P00", "畅爽冰激凌")
    assert (offer.is_5g, offer.data_mb) == (True, 0)
    assert offer.launched_on == date(2026, 3, 1)
    with pytest.raises(MarketInputInvalid) as caught:
        offer_from_text(
            {
                "competitor": "unicom",
                "name": "",
                "monthly_fee_fen": "129.00",
                "launched_on": "2026-03-01",
                "withdrawn_on": "2026-02-01",
            },
            province_code="P00",
        )
    assert [p.column for p in caught.value.problems] == [
        "competitor",
        "name",
        "monthly_fee_fen",
        "withdrawn_on",
    ]


def test_share_rows_need_exactly_one_of_share_and_estimate() -> None:
    parsed = share_from_text(
        {"org_code": "C01", "month": "2026-05", "competitor": "other", "share_bp": "125"}
    )
    assert (parsed.month, parsed.share_bp, parsed.subscribers) == (MAY, 125, None)
    for values in ({"share_bp": "1", "subscribers": "2"}, {}, {"share_bp": "10001"}):
        with pytest.raises(MarketInputInvalid):
            share_from_text(
                {"org_code": "C01", "month": "2026-05", "competitor": "other", **values}
            )
    assert parse_month("202605") == MAY
    assert parse_month("2026-13") is None


def test_the_comparable_plan_is_the_nearest_fee_of_the_same_5g_kind() -> None:
    plans = [
        OwnPlan("P1", "5G 99", "5g_plan", 9900, 20_000, 300, True),
        OwnPlan("P2", "5G 139", "5g_plan", 13_900, 40_000, 500, True),
        OwnPlan("P3", "4G 128", "4g_plan", 12_800, 10_000, 500, False),
    ]
    offer = offer_from_text(
        {
            "competitor": "china_telecom",
            "name": "x",
            "monthly_fee_fen": "12900",
            "is_5g": "1",
            "launched_on": "2026-01-01",
        },
        province_code="P00",
    )
    nearest = comparable_plan(offer, plans)
    assert nearest is not None
    assert nearest.product_id == "P2"  # 1,000 fen away; the 4G plan is nearer but not 5G
    assert comparable_plan(offer, plans[2:]) is None
