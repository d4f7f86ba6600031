"""Customer 360 rules: parsing a lookup, the data date, ages, tenure and age bands."""

from __future__ import annotations

from datetime import date

import pytest

from telmark.customers import domain
from telmark.customers.domain import Lookup, SearchBy
from telmark.errors import InvalidInput


def test_a_lookup_is_by_msisdn_or_by_id_never_both() -> None:
    assert domain.parse_lookup(msisdn=" 13912345678 ") == Lookup(SearchBy.MSISDN, "13912345678")
    assert domain.parse_lookup(subscriber_id="42") == Lookup(SearchBy.SUBSCRIBER_ID, "42")
    assert domain.parse_lookup(subscriber_id=" ", msisdn="") is None
    with pytest.raises(InvalidInput) as both:
        domain.parse_lookup(subscriber_id="1", msisdn="13912345678")
    assert both.value.details[0]["field"] == "msisdn"


@pytest.mark.parametrize("bad", ["1391234567", "23912345678", "139123456789", "1391234567x"])
def test_only_a_full_mobile_number_is_searched(bad: str) -> None:
    with pytest.raises(InvalidInput) as error:
        domain.parse_lookup(msisdn=bad)
    assert error.value.message == domain.NOT_A_MSISDN
    assert error.value.details[0]["field"] == "msisdn"


@pytest.mark.parametrize("bad", ["0", "-3", "1.5", "abc", str(2**63)])
def test_a_subscriber_id_is_a_positive_whole_number(bad: str) -> None:
    with pytest.raises(InvalidInput) as error:
        domain.parse_subscriber_id(bad)
    assert error.value.details[0]["field"] == "subscriber_id"


def test_the_data_date_is_the_end_of_the_latest_billed_month() -> None:
    today = date(2026, 11, 26)
    assert domain.data_date(date(2024, 2, 1), today) == date(2024, 2, 29)
    assert domain.data_date(None, today) == today
    # A month still running is measured up to today, not its last day.
    assert domain.data_date(date(2026, 11, 1), today) == today


def test_whole_months_counts_completed_months_only() -> None:
    assert domain.whole_months(date(2023, 5, 10), date(2024, 3, 31)) == 10
    assert domain.whole_months(date(2023, 5, 31), date(2023, 6, 30)) == 0
    assert domain.whole_months(date(2023, 5, 10), date(2023, 5, 9)) == 0
    assert domain.whole_months(date(2024, 1, 31), date(2025, 1, 31)) == 12


def test_tenure_of_a_line_that_left_ends_when_it_left() -> None:
    as_of = date(2024, 3, 31)
    left = date(2024, 2, 14)
    assert domain.tenure_end(status="ported_out", status_date=left, as_of=as_of) == left
    assert domain.tenure_end(status="terminated", status_date=left, as_of=as_of) == left
    assert domain.tenure_end(status="suspended", status_date=left, as_of=as_of) == as_of


@pytest.mark.parametrize(
    ("birth_year", "band"),
    [(2001, "<25"), (2000, "<25"), (1999, "25-34"), (1990, "25-34"), (1989, "35-44"),
     (1970, "45-54"), (1960, "55-64"), (1959, "65+"), (1930, "65+")],
)  # fmt: skip
def test_age_bands(birth_year: int, band: str) -> None:
    assert domain.age_band(birth_year, date(2024, 6, 30)) == band
