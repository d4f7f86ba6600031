"""Masking of personal data: the documented examples, and properties over any input."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.privacy.masking import (
    MASK_CHAR,
    MIN_HIDDEN,
    PersonalKind,
    contract_fields,
    mask_id_number,
    mask_msisdn,
    mask_name,
    mask_record,
    mask_value,
)
from telmark.warehouse.contract import STAFF, SUBSCRIBERS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "138****5678"),
        (" 13812345678 ", "138****5678"),
        ("12345678", "****5678"),  # 8 digits: 4 hidden, the last 4 shown first
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_msisdn(value: str, expected: str) -> None:
    assert mask_msisdn(value) == expected


def test_mask_id_number_keeps_region_and_last_four() -> None:
    assert mask_id_number("11010119900307123X") == "110101********123X"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("王小明", "王**"), ("王明", "王*"), ("欧阳娜娜", "欧***"), ("王", "*"), ("", "")],
)
def test_mask_name(value: str, expected: str) -> None:
    assert mask_name(value) == expected


def test_mask_value_and_record() -> None:
    assert mask_value(PersonalKind.MSISDN, None) is None
    assert mask_value(PersonalKind.MSISDN, 13812345678) == "138****5678"
    assert mask_value(PersonalKind.TEXT, "南京市玄武区") == "******"
    record = {"id": 3, "msisdn": "13812345678", "customer_name": "王小明", "city": "南京"}
    fields = {"msisdn": PersonalKind.MSISDN, "customer_name": PersonalKind.NAME}
    assert mask_record(record, fields) == {
        "id": 3,
        "msisdn": "138****5678",
        "customer_name": "王**",
        "city": "南京",
    }
    assert record["msisdn"] == "13812345678"  # a copy; the input is untouched


def test_contract_fields_follow_the_personal_flag() -> None:
    assert contract_fields(SUBSCRIBERS) == {
        "msisdn": PersonalKind.MSISDN,
        "customer_name": PersonalKind.NAME,
        "id_number": PersonalKind.ID_NUMBER,
    }
    assert contract_fields(STAFF) == {"name": PersonalKind.NAME}


def _revealed(masked: str) -> tuple[int, int]:
    """Lengths of the unmasked prefix and suffix of ``masked``."""
    shown_first = next((i for i, c in enumerate(masked) if c == MASK_CHAR), len(masked))
    return shown_first, len(masked[shown_first:].lstrip(MASK_CHAR))


text_without_stars = st.text(
    alphabet=st.characters(blacklist_characters=MASK_CHAR, blacklist_categories=("Zs", "Cc")),
    max_size=40,
)


@pytest.mark.parametrize(
    ("mask", "first", "last"), [(mask_msisdn, 3, 4), (mask_id_number, 6, 4), (mask_name, 1, 0)]
)
@given(value=text_without_stars)
def test_masks_never_show_more_than_the_kept_characters(
    mask: Callable[[str], str], first: int, last: int, value: str
) -> None:
    masked = mask(value)
    assert len(masked) == len(value)
    shown_first, shown_last = _revealed(masked)
    assert shown_first <= first
    assert shown_last <= last
    # What is shown is the original's own prefix and suffix, everything between is starred.
    assert masked[:shown_first] == value[:shown_first]
    assert masked[len(masked) - shown_last :] == value[len(value) - shown_last :]
    assert set(masked[shown_first : len(masked) - shown_last]) <= {MASK_CHAR}
    hidden = len(value) - shown_first - shown_last
    assert hidden >= min(len(value), MIN_HIDDEN if mask is not mask_name else 1)


@given(digits=st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_masked_msisdns_hide_the_subscriber_digits(digits: str) -> None:
    masked = mask_msisdn(digits)
    assert masked[3:7] == "****"
    assert masked[:3] + masked[7:] == digits[:3] + digits[7:]
