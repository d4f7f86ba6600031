"""Building blocks of the generator: identities, numbers, strings, calendar, catalog."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from telmark.warehouse.generator import arrays as ar
from telmark.warehouse.generator.catalog import build_catalog, fitting_fee, nearest_in_ladder
from telmark.warehouse.generator.names import (
    CITIES,
    GIVEN_FEMALE,
    GIVEN_MALE,
    MSISDN_PREFIXES,
    SURNAMES,
)
from telmark.warehouse.generator.people import (
    id_check_char,
    id_numbers,
    msisdn_numbers,
    person_names,
)
from telmark.warehouse.generator.window import last_complete_month, make_window


def test_id_check_character_matches_published_examples() -> None:
    # GB 11643-1999's worked example and a number whose check character is X.
    for number in ("11010519491231002X", "440524188001010014"):
        digits = np.frombuffer(number[:17].encode(), dtype=np.uint8)[None, :]
        assert chr(id_check_char(digits)[0]) == number[17]


def test_id_numbers_encode_region_birth_and_sex() -> None:
    rng = np.random.default_rng(1)
    born = np.array([ar.day_number(date(1990, 2, 28)), ar.day_number(date(2004, 12, 31))])
    numbers = id_numbers(
        rng, region=np.array([320102, 321324]), birth_days=born, female=np.array([True, False])
    ).to_pylist()
    assert numbers[0][:14] == "32010219900228"
    assert int(numbers[0][16]) % 2 == 0
    assert numbers[1][:14] == "32132420041231"
    assert int(numbers[1][16]) % 2 == 1


def test_msisdns_are_unique_valid_and_seed_dependent() -> None:
    ids = np.arange(1, 2_000_001, dtype=np.int64)
    numbers = msisdn_numbers(ids, seed=5)
    assert len(np.unique(numbers)) == len(ids)
    assert numbers.min() >= 13_400_000_000
    assert numbers.max() <= 19_899_999_999
    assert set(np.unique(numbers // 100_000_000).tolist()) == set(MSISDN_PREFIXES)
    assert not np.array_equal(numbers[:1000], msisdn_numbers(ids[:1000], seed=6))


def test_person_names_follow_surname_and_gender_vocabularies() -> None:
    rng = np.random.default_rng(2)
    female = rng.random(5_000) < 0.5
    names = person_names(rng, female).to_pylist()
    surnames = sorted((s for s, _ in SURNAMES), key=len, reverse=True)
    for name, is_female in zip(names, female, strict=True):
        surname = next(s for s in surnames if name.startswith(s))
        given = name[len(surname) :]
        assert 1 <= len(given) <= 2
        assert set(given) <= set(GIVEN_FEMALE if is_female else GIVEN_MALE)
    common = sum(n.startswith(("王", "李", "张")) for n in names) / len(names)
    assert 0.12 < common < 0.28


def test_codes_and_nullable_takes() -> None:
    codes = ar.codes("H", np.array([7, 1234567890]), 10, valid=np.array([True, False]))
    assert codes.to_pylist() == ["H0000000007", None]
    vocab = ar.vocabulary(["a", "b"])
    assert ar.take(vocab, np.array([1, 0]), valid=np.array([True, False])).to_pylist() == [
        "b",
        None,
    ]


def test_cities_carry_real_division_codes() -> None:
    assert len(CITIES) == 13
    for c, city in enumerate(CITIES, start=1):
        prefixes = {d.code // 100 for d in city.districts}
        assert prefixes == {3200 + c}, city.name
    codes = [d.code for city in CITIES for d in city.districts]
    assert len(codes) == len(set(codes))


def test_window_marks_spring_festival_and_trend() -> None:
    window = make_window(end_month=date(2026, 3, 1), months=15)
    assert window.first_month == date(2025, 1, 1)
    festival = [m for m, flag in zip(range(15), window.spring_festival, strict=True) if flag]
    assert festival == [0, 13]  # 29 Jan 2025 and 17 Feb 2026
    assert window.trend[-1] == 0
    assert window.trend[0] == -14
    assert window.data_date == ar.day_number(date(2026, 3, 31))


def test_last_complete_month_handles_january() -> None:
    assert last_complete_month(date(2025, 1, 1)) == date(2024, 12, 1)
    assert last_complete_month(date(2025, 3, 31)) == date(2025, 2, 1)


def test_ladders_pick_the_nearest_fee_and_the_cheapest_fit() -> None:
    catalog = build_catalog(first_day=ar.day_number(date(2025, 1, 1)))
    chosen = nearest_in_ladder(catalog.post_5g, catalog.fee, np.array([100.0, 6_000, 1e9]))
    assert catalog.fee[chosen].tolist() == [3_900, 5_900, 29_900]
    fits = fitting_fee(
        catalog.fit_post_mb, catalog.fit_post_fee, np.array([1_000.0, 20_000.0, 25_000.0])
    )
    # 2 GB for 18 yuan; 20 GB on the 39-yuan 5G plan; 30 GB for 59 yuan
    assert fits.tolist() == [1_800.0, 3_900.0, 5_900.0]


@pytest.mark.parametrize("months", [1, 12, 60])
def test_catalog_products_were_launched_before_the_window(months: int) -> None:
    window = make_window(end_month=date(2025, 6, 1), months=months)
    catalog = build_catalog(first_day=window.first_day)
    assert (catalog.launch < window.first_day).all()
    assert (catalog.fee > 0).all()
    assert (catalog.fee % 100 == 0).all()
