"""Small vectorised behaviour models shared by the monthly simulation.

Channels, local clock times and an append-only column collector.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from telmark.warehouse.contract import ORDERS, SALES_CHANNELS
from telmark.warehouse.generator.arrays import (
    US_PER_DAY,
    US_PER_HOUR,
    AnyArray,
    BoolArray,
    FloatArray,
    IntArray,
)
from telmark.warehouse.generator.window import UTC_OFFSET_HOURS

# Codes index the contract's allowed tuples (asserted here so a reorder fails loudly).
HALL, AGENT, APP, WECHAT, WEB, TELEMARKETING, ACCOUNT_MANAGER = range(7)
assert SALES_CHANNELS[ACCOUNT_MANAGER] == "account_manager"
NEW, CHANGE, ADD, CANCEL = range(4)
assert ORDERS.column("action").allowed == ("new", "change", "add", "cancel")

# Local hour-of-day weights for customer activity (08:00-23:00 peaks in the evening).
_HOUR_WEIGHTS = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 4, 5, 5, 5, 6, 5, 5, 5, 5, 5, 6, 8, 9, 9, 7, 3],
    dtype=np.float64,
)
_HOUR_CDF = np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()


def categorical(rng: np.random.Generator, weights: FloatArray) -> IntArray:
    """One draw per row from unnormalised non-negative weights (rows × categories)."""
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cdf[:, -1]
    result: IntArray = (u[:, None] >= cdf).sum(axis=1).astype(np.int64)
    capped: IntArray = np.minimum(result, weights.shape[1] - 1)
    return capped


class Channels:
    """Each line's sales channel odds, drawn from per order (or per recharge).

    Digital-minded and young customers use the app and WeChat; older ones the
    hall; enterprise members mostly their account manager. Recharges never go
    through telemarketing or an account manager. The cumulative odds are
    computed once per line, so a draw is a gather and a comparison.
    """

    def __init__(self, *, digital: FloatArray, age: IntArray, enterprise: BoolArray) -> None:
        older = (age - 41) / 14
        w = np.empty((len(digital), 7), dtype=np.float32)
        w[:, HALL] = np.exp(0.6 - 0.5 * digital + 0.3 * older)
        w[:, AGENT] = np.exp(0.1 - 0.2 * digital)
        w[:, APP] = np.exp(-0.1 + 0.9 * digital)
        w[:, WECHAT] = np.exp(-0.5 + 0.6 * digital)
        w[:, WEB] = np.exp(-2.0 + 0.3 * digital)
        w[:, TELEMARKETING] = np.exp(-2.3)
        w[:, ACCOUNT_MANAGER] = np.where(enterprise, np.exp(2.5), 0.0)
        self._orders = self._cdf(w)
        w[:, TELEMARKETING] = 0.0
        w[:, ACCOUNT_MANAGER] = 0.0
        self._payments = self._cdf(w)

    @staticmethod
    def _cdf(weights: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        cdf = np.cumsum(weights, axis=1)
        cdf /= cdf[:, -1:]
        # Boundaries as rows (the last, 1, is implied): each is a cheap 1-D gather.
        return np.ascontiguousarray(cdf[:, :-1].T)

    def _draw(
        self, rng: np.random.Generator, boundaries: npt.NDArray[np.float32], who: IntArray
    ) -> IntArray:
        u = rng.random(len(who), dtype=np.float32)
        result = np.zeros(len(who), dtype=np.int64)
        for boundary in boundaries:
            result += u >= boundary[who]
        return result

    def orders(self, rng: np.random.Generator, who: IntArray) -> IntArray:
        return self._draw(rng, self._orders, who)

    def payments(self, rng: np.random.Generator, who: IntArray) -> IntArray:
        return self._draw(rng, self._payments, who)


def local_times(
    rng: np.random.Generator, day: IntArray, *, business_hours: bool = False
) -> IntArray:
    """UTC microseconds of a random local (UTC+8) time on each day number."""
    m = len(day)
    if business_hours:
        hour = rng.integers(9, 21, m)
    else:
        hour = np.minimum(np.searchsorted(_HOUR_CDF, rng.random(m)), 23)
    within = hour * US_PER_HOUR + (rng.random(m) * US_PER_HOUR).astype(np.int64)
    result: IntArray = day * US_PER_DAY + within - UTC_OFFSET_HOURS * US_PER_HOUR
    return result


def days_between(rng: np.random.Generator, first: IntArray, last: IntArray) -> IntArray:
    """A uniform random day in [first, last] per row (last >= first)."""
    span = np.maximum(last - first + 1, 1)
    result: IntArray = first + (rng.random(len(first)) * span).astype(np.int64)
    return result


class Rows:
    """Collects column blocks of a row table month by month; concatenates once."""

    def __init__(self, *names: str) -> None:
        self._parts: dict[str, list[AnyArray]] = {name: [] for name in names}

    def add(self, **columns: AnyArray) -> None:
        assert columns.keys() == self._parts.keys(), sorted(columns)
        for name, values in columns.items():
            self._parts[name].append(np.asarray(values))

    def arrays(self) -> dict[str, AnyArray]:
        return {
            name: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            for name, parts in self._parts.items()
        }
