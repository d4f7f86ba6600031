"""Customer 360 rules (pure): what a search term means, ages, tenures, display labels.

The 360 view reads one subscriber at a time; everything here is the part that
needs no warehouse: parsing the lookup, the data date a subscriber's ages are
measured at, age bands, and the labels the console shows for coded values.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from telmark.errors import InvalidInput
from telmark.warehouse.contract import MSISDN_PATTERN

_MSISDN = re.compile(MSISDN_PATTERN)
MAX_SUBSCRIBER_ID = 2**63 - 1

NOT_A_MSISDN = "msisdn must be an 11-digit mainland mobile number (1[3-9] and 9 digits)"
NOT_A_SUBSCRIBER_ID = "subscriber_id must be a whole number of at least 1"

# Where the optional analytical sections come from, and the command that builds each.
VALUE_TABLE = "customer_value"
CHURN_TABLE = "churn_scores"
VALUE_COMMAND = "telmark analysis value refresh"
CHURN_COMMAND = "telmark analysis churn score"

# Latest rows shown in each history list (the page says so when there are more).
HISTORY_LIMIT = 50


class SearchBy(StrEnum):
    SUBSCRIBER_ID = "subscriber_id"
    MSISDN = "msisdn"


@dataclass(frozen=True, slots=True)
class Lookup:
    """A parsed search: by subscriber id or by the full mobile number (exact)."""

    by: SearchBy
    value: str

    @property
    def subscriber_id(self) -> int:
        return int(self.value)


def parse_msisdn(value: str) -> str:
    """The mobile number without surrounding spaces, or InvalidInput naming the field."""
    text = value.strip()
    if not _MSISDN.match(text):
        raise InvalidInput(
            NOT_A_MSISDN,
            details=[{"field": "msisdn", "reason": "pattern", "pattern": MSISDN_PATTERN}],
        )
    return text


def parse_subscriber_id(value: str | int) -> int:
    """A subscriber id from text or a number, or InvalidInput naming the field."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_SUBSCRIBER_ID:
        raise InvalidInput(
            NOT_A_SUBSCRIBER_ID,
            details=[{"field": "subscriber_id", "value": text[:40], "reason": "not an id"}],
        )
    return int(text)


def parse_lookup(*, subscriber_id: str | None = None, msisdn: str | None = None) -> Lookup | None:
    """The search the user asked for; None when both fields are blank.

    Both given is an error rather than a silent preference for one of them.
    """
    sid = (subscriber_id or "").strip()
    number = (msisdn or "").strip()
    if sid and number:
        raise InvalidInput(
            "search by subscriber_id or by msisdn, not both",
            details=[{"field": "msisdn", "reason": "both given"}],
        )
    if number:
        return Lookup(SearchBy.MSISDN, parse_msisdn(number))
    if sid:
        return Lookup(SearchBy.SUBSCRIBER_ID, str(parse_subscriber_id(sid)))
    return None


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def data_date(latest_usage_month: date | None, today: date) -> date:
    """The day a subscriber's ages and tenure are measured at.

    The end of their latest billed month (the warehouse's data date for them),
    or today when nothing was ever billed.
    """
    if latest_usage_month is None:
        return today
    return min(month_end(latest_usage_month), today)


def whole_months(start: date, end: date) -> int:
    """Completed months from ``start`` to ``end`` (0 if ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(0, months)


def tenure_end(*, status: str, status_date: date, as_of: date) -> date:
    """A line that left counts its tenure to the day it left; others to ``as_of``."""
    return status_date if status in ("ported_out", "terminated") else as_of


def age(birth_year: int, on: date) -> int:
    return on.year - birth_year


# (upper bound inclusive or None, label); ages under the first bound fall in the first band.
AGE_BANDS: tuple[tuple[int | None, str], ...] = (
    (24, "<25"),
    (34, "25-34"),
    (44, "35-44"),
    (54, "45-54"),
    (64, "55-64"),
    (None, "65+"),
)


def age_band(birth_year: int, on: date) -> str:
    """The holder's age band on ``on``: <25, 25-34, …, 65+."""
    years = age(birth_year, on)
    for upper, label in AGE_BANDS:
        if upper is None or years <= upper:
            return label
    raise AssertionError("unreachable: the last band is open-ended")


def arpu_yuan(fen: int | None) -> float | None:
    return None if fen is None else fen / 100
