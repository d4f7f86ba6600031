"""Pure catalog rules: kind terms, bundle prices, handset terms, version order and lookup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.catalog.domain import (
    CatalogInputInvalid,
    Component,
    HandsetTerms,
    PaymentType,
    ProductKind,
    ProductSpec,
    ProductStatus,
    Terms,
    VersionSource,
    check_next_valid_from,
    check_product,
    check_terms,
    transition,
    valid_until,
    version_at,
)
from telmark.errors import InvalidTransition

KINDS = {"PL": ProductKind.PLAN, "BB": ProductKind.BROADBAND, "TV": ProductKind.IPTV}
HANDSET = HandsetTerms("华为Mate 60", 599_900, 150_000, 24, 16_900)


def fields_of(kind: ProductKind, terms: Terms, **options: object) -> list[str]:
    with pytest.raises(CatalogInputInvalid) as refused:
        check_terms(kind, terms, **options)  # type: ignore[arg-type]
    return [p.field for p in refused.value.problems]


def test_a_bundle_price_is_the_sum_of_its_component_shares() -> None:
    parts = (Component("PL", 1, 8_900), Component("BB", 1, 4_000))
    check_terms(ProductKind.BUNDLE, Terms(12_900, components=parts), component_kinds=KINDS)
    off_by_one = Terms(12_901, components=parts)
    assert fields_of(ProductKind.BUNDLE, off_by_one, component_kinds=KINDS) == ["components"]


def test_bundle_components_exist_once_and_are_no_bundles() -> None:
    kinds = {**KINDS, "BD": ProductKind.BUNDLE}
    parts = (
        Component("PL", 1, 100),
        Component("PL", 2, 100),
        Component("BD", 1, 100),
        Component("XX", 0, -1),
    )
    assert fields_of(ProductKind.BUNDLE, Terms(299, components=parts), component_kinds=kinds) == [
        "components[1].code",
        "components[2].code",
        "components[3].code",
        "components[3].quantity",
        "components[3].fee_share_fen",
    ]
    one = (Component("PL", 1, 100),)
    assert fields_of(ProductKind.BUNDLE, Terms(100, components=one), component_kinds=KINDS) == [
        "components"
    ]


def test_entered_versions_need_the_terms_of_their_kind_warehouse_ones_may_lack_them() -> None:
    assert fields_of(ProductKind.BROADBAND, Terms(6_000)) == ["speed_mbps"]
    assert fields_of(ProductKind.IPTV, Terms(1_500)) == ["iptv_channels"]
    assert fields_of(ProductKind.HANDSET_CONTRACT, Terms(9_900)) == ["device_model"]
    assert fields_of(ProductKind.BUNDLE, Terms(12_900)) == ["components"]
    for kind in (ProductKind.BROADBAND, ProductKind.IPTV, ProductKind.HANDSET_CONTRACT):
        check_terms(kind, Terms(1_000), source=VersionSource.WAREHOUSE)
    check_terms(ProductKind.BUNDLE, Terms(12_900), source=VersionSource.WAREHOUSE)


def test_terms_of_another_kind_are_refused() -> None:
    plan = Terms(5_900, data_mb=1, speed_mbps=100, iptv_channels=10, handset=HANDSET)
    assert fields_of(ProductKind.PLAN, plan) == ["speed_mbps", "iptv_channels", "device_model"]
    broadband = Terms(6_000, data_mb=1024, speed_mbps=300)
    assert fields_of(ProductKind.BROADBAND, broadband) == ["data_mb"]
    assert fields_of(ProductKind.PLAN, Terms(-1)) == ["monthly_fee_fen"]


@pytest.mark.parametrize(
    ("handset", "fee", "fields"),
    [
        (HANDSET, 16_900, []),
        (HandsetTerms("X", 100_000, 100_001, 12, 10_000), 10_000, ["subsidy_fen"]),
        # 24 × 99 yuan = 2,376 yuan committed: a 3,000-yuan subsidy is not earned back.
        (HandsetTerms("X", 500_000, 300_000, 24, 9_900), 9_900, ["subsidy_fen"]),
        (HandsetTerms("X", 500_000, 10_000, 0, 9_900), 9_900, ["lock_in_months"]),
        (HandsetTerms("X", 500_000, 10_000, 12, 5_000), 9_900, ["min_monthly_spend_fen"]),
        (HandsetTerms(" ", 0, 0, 12, 9_900), 9_900, ["device_model", "device_price_fen"]),
    ],
)
def test_handset_terms(handset: HandsetTerms, fee: int, fields: list[str]) -> None:
    terms = Terms(fee, handset=handset)
    if not fields:
        check_terms(ProductKind.HANDSET_CONTRACT, terms)
    else:
        assert fields_of(ProductKind.HANDSET_CONTRACT, terms) == fields


def test_product_code_name_and_family() -> None:
    good = ProductSpec("PL5G079", "5G畅享套餐79元", ProductKind.PLAN, "5g_plan", PaymentType.ANY)
    check_product(good)
    bad = ProductSpec("PL 5G/1", " ", ProductKind.PLAN, "6g_plan", PaymentType.ANY)
    with pytest.raises(CatalogInputInvalid) as refused:
        check_product(bad)
    assert [p.field for p in refused.value.problems] == ["code", "name", "family"]


def test_a_new_version_starts_today_or_later_and_after_the_latest() -> None:
    today = date(2026, 11, 26)
    check_next_valid_from(date(2020, 1, 1), latest=None, today=today)  # the first may be past
    check_next_valid_from(today, latest=date(2026, 1, 1), today=today)
    with pytest.raises(CatalogInputInvalid, match="in the past"):
        check_next_valid_from(date(2026, 11, 25), latest=date(2026, 1, 1), today=today)
    with pytest.raises(CatalogInputInvalid, match="after the latest"):
        check_next_valid_from(date(2026, 12, 1), latest=date(2026, 12, 1), today=today)


def test_a_retired_product_stays_retired() -> None:
    assert transition(ProductStatus.ON_SALE, ProductStatus.RETIRED) is ProductStatus.RETIRED
    with pytest.raises(InvalidTransition):
        transition(ProductStatus.RETIRED, ProductStatus.ON_SALE)


@dataclass(frozen=True)
class V:
    valid_from: date
    fee: int


@given(
    st.lists(st.dates(date(2020, 1, 1), date(2030, 1, 1)), min_size=1, max_size=8, unique=True),
    st.dates(date(2019, 1, 1), date(2031, 1, 1)),
)
def test_version_at_is_the_latest_start_on_or_before_the_day(starts: list[date], day: date) -> None:
    versions = [V(s, i) for i, s in enumerate(starts)]
    found = version_at(versions, day)
    periods = valid_until(versions)
    # Exactly one derived period [start, until) holds the day, unless it is before them all.
    holding = [v for v, until in periods if v.valid_from <= day and (until is None or day < until)]
    assert (found is None) == (day < min(starts))
    assert holding == ([] if found is None else [found])
    # Adding a later version never changes what an earlier day resolves to.
    later = V(max(starts) + (date(2031, 1, 2) - date(2031, 1, 1)), 99)
    if day <= max(starts):
        assert version_at([*versions, later], day) == found
