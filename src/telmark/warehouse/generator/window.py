"""The generated months: their days, seasons and trend position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from telmark.errors import InvalidInput
from telmark.warehouse.generator.arrays import IntArray, day_number

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")
UTC_OFFSET_HOURS = 8  # China has no daylight saving time

# Gregorian date of the Spring Festival (Chinese New Year): the month it falls
# in is the year's peak for voice, data at home and outbound travel.
SPRING_FESTIVAL: dict[int, date] = {
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
    2036: date(2036, 1, 28),
    2037: date(2037, 2, 15),
    2038: date(2038, 2, 4),
    2039: date(2039, 1, 24),
    2040: date(2040, 2, 12),
}

# The catalog and handset model describe the 5G era (commercial 5G began in
# China on 2019-11-01), so generated windows start no earlier than 2020.
EARLIEST_END_MONTH = date(2020, 6, 1)
LATEST_END_MONTH = date(2040, 12, 1)
MAX_MONTHS = 60


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def last_complete_month(today: date | None = None) -> date:
    """First day of the last calendar month that has fully ended (province time)."""
    current = today or datetime.now(PROVINCE_TZ).date()
    return (current.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True, slots=True)
class Window:
    """``months`` calendar months ending with ``end_month`` (both first-of-month dates)."""

    end_month: date
    months: int
    month_start: IntArray  # day numbers of each month's first day, plus the month after
    month_of_year: IntArray
    spring_festival: np.ndarray
    trend: np.ndarray  # months before the end month (0 for the end month, negative before)

    @property
    def first_month(self) -> date:
        return add_months(self.end_month, -(self.months - 1))

    @property
    def first_day(self) -> int:
        return int(self.month_start[0])

    @property
    def data_date(self) -> int:
        """Day number of the last day of the window: the snapshot date of the data."""
        return int(self.month_start[-1]) - 1

    def month_days(self, t: int) -> int:
        return int(self.month_start[t + 1] - self.month_start[t])


def make_window(*, end_month: date | None, months: int) -> Window:
    """Validate the requested span and describe its months."""
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidInput(
            f"months must be between 1 and {MAX_MONTHS}",
            details=[{"field": "months", "value": months}],
        )
    end = (end_month or last_complete_month()).replace(day=1)
    if not EARLIEST_END_MONTH <= end <= LATEST_END_MONTH:
        raise InvalidInput(
            f"end_month must be between {EARLIEST_END_MONTH:%Y-%m} and {LATEST_END_MONTH:%Y-%m}",
            details=[{"field": "end_month", "value": end.isoformat()}],
        )
    firsts = [add_months(end, k - (months - 1)) for k in range(months + 1)]
    spring = [
        (m.year in SPRING_FESTIVAL and SPRING_FESTIVAL[m.year].month == m.month)
        or (m.year not in SPRING_FESTIVAL and m.month == 2)
        for m in firsts[:-1]
    ]
    return Window(
        end_month=end,
        months=months,
        month_start=np.array([day_number(m) for m in firsts], dtype=np.int64),
        month_of_year=np.array([m.month for m in firsts[:-1]], dtype=np.int64),
        spring_festival=np.array(spring, dtype=np.bool_),
        trend=np.arange(-(months - 1), 1, dtype=np.float64),
    )
