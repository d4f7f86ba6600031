"""Time decay of customer value: the pure rule and its warehouse expression agree."""

from __future__ import annotations

import ibis
import pytest

from telmark.analysis.value import decay
from telmark.errors import InvalidInput


def test_a_half_life_halves_the_value() -> None:
    assert decay.decay_factor(0, half_life_months=3) == 1.0
    assert decay.decay_factor(3, half_life_months=3) == pytest.approx(0.5)
    assert decay.decay_factor(6, half_life_months=3) == pytest.approx(0.25)
    assert decay.decay_factor(1, half_life_months=2) == pytest.approx(2**-0.5)


def test_decayed_value_rounds_to_whole_fen_half_up() -> None:
    assert decay.decayed_value(10_000, 0, half_life_months=3) == 10_000
    assert decay.decayed_value(10_000, 3, half_life_months=3) == 5_000
    assert decay.decayed_value(3, 1, half_life_months=1) == 2  # 1.5 rounds up
    assert decay.decayed_value(0, 12, half_life_months=3) == 0


def test_value_only_falls_as_inactivity_grows() -> None:
    curve = decay.decay_curve(half_life_months=4, months=24)
    assert len(curve) == 25
    assert all(later < earlier for earlier, later in zip(curve, curve[1:], strict=False))


@pytest.mark.parametrize("half_life", [0, -1, float("inf"), float("nan")])
def test_a_half_life_must_be_positive_and_finite(half_life: float) -> None:
    with pytest.raises(InvalidInput, match="half-life"):
        decay.decay_factor(1, half_life_months=half_life)


def test_negative_months_are_refused() -> None:
    with pytest.raises(InvalidInput):
        decay.decay_factor(-1, half_life_months=3)


def test_the_warehouse_expression_matches_the_pure_rule() -> None:
    rows = [(v, m) for v in (0, 1, 3, 999, 12_345, 1_000_000) for m in range(0, 30)]
    table = ibis.memtable({"v": [r[0] for r in rows], "m": [r[1] for r in rows]})
    expr = table.select(out=decay.decayed_value_expr(table.v, table.m, half_life_months=2.5))
    got = ibis.duckdb.connect().execute(expr)["out"].tolist()
    assert got == [decay.decayed_value(v, m, half_life_months=2.5) for v, m in rows]
