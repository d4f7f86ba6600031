"""Time decay of customer value (seed: "客户的价值随时间而慢慢削减").

A customer's monthly value is weighed by how long ago they were last active:
factor(r) = 0.5 ** (r / half_life) for r months since the last active month,
so a customer active this month keeps their full value and one silent for a
half-life keeps half. The default half-life is 3 months: a prepaid line that
has not been used or topped up for a quarter is, in the operator's experience
the seed reflects, half as likely to come back as an active one. The pure
functions here and the Ibis expression compute the same number.
"""

from __future__ import annotations

import math

import ibis.expr.types as ir

from telmark.errors import InvalidInput

DEFAULT_HALF_LIFE_MONTHS = 3.0


def check_half_life(half_life_months: float) -> None:
    """Reject a half-life that is not a positive number of months."""
    if not half_life_months > 0 or math.isinf(half_life_months):
        raise InvalidInput(
            "the half-life must be a positive number of months",
            details=[{"field": "half_life_months", "value": half_life_months}],
        )


def decay_factor(months_since_active: int, *, half_life_months: float) -> float:
    """The share of value kept after ``months_since_active`` months without activity."""
    check_half_life(half_life_months)
    if months_since_active < 0:
        raise InvalidInput("months since the last activity cannot be negative")
    # exp(-ln 2 · x) rather than 0.5 ** x: the form the warehouse expression uses.
    return math.exp(months_since_active / half_life_months * -math.log(2.0))


def decayed_value(value_fen: int, months_since_active: int, *, half_life_months: float) -> int:
    """``value_fen`` times the decay factor, in whole fen rounded half up."""
    factor = decay_factor(months_since_active, half_life_months=half_life_months)
    return math.floor(value_fen * factor + 0.5)


def decay_curve(*, half_life_months: float, months: int = 24) -> list[float]:
    """Factors for 0..``months`` months since the last activity (for the chart)."""
    return [decay_factor(m, half_life_months=half_life_months) for m in range(months + 1)]


def decayed_value_expr(
    value_fen: ir.IntegerValue, months_since_active: ir.IntegerValue, *, half_life_months: float
) -> ir.IntegerValue:
    """The same as ``decayed_value`` as an Ibis expression (floor(x + 0.5), any backend)."""
    check_half_life(half_life_months)
    exponent = months_since_active.cast("float64") / half_life_months
    factor = ibis_pow_half(exponent)
    return (value_fen.cast("float64") * factor + 0.5).floor().cast("int64")


def ibis_pow_half(exponent: ir.FloatingValue) -> ir.FloatingValue:
    """0.5 ** exponent, written as exp(-ln 2 · x) so every backend evaluates it alike."""
    return (exponent * -math.log(2.0)).exp()
