"""RFM quintile scores and member tiers (pure rules and their Ibis forms)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from telmark.analysis.value import rfm
from telmark.analysis.value.rfm import ValueTier


def test_quintile_score_is_the_ceiling_of_five_times_the_share() -> None:
    assert [rfm.quintile_score(c, 10) for c in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rfm.quintile_score(1, 1) == 5
    assert rfm.quintile_score(1, 100) == 1


@pytest.mark.parametrize(
    ("score", "frequency", "tier"),
    [
        (15, 3, ValueTier.VIP),
        (14, 1, ValueTier.VIP),
        (13, 1, ValueTier.GOLD),
        (11, 1, ValueTier.GOLD),
        (10, 1, ValueTier.STAR),
        (8, 1, ValueTier.STAR),
        (7, 5, ValueTier.NON_MEMBER),
        (3, 1, ValueTier.NON_MEMBER),
        # No purchase in the window: not a member, whatever the total (seed: 购买是必选项).
        (15, 0, ValueTier.NON_MEMBER),
    ],
)
def test_tiers_follow_the_documented_cut_offs(score: int, frequency: int, tier: ValueTier) -> None:
    assert rfm.tier_for(score, frequency) is tier


def test_the_tier_expression_matches_the_pure_rule() -> None:
    pairs = [(s, f) for s in range(3, 16) for f in (0, 1, 7)]
    table = ibis.memtable({"s": [p[0] for p in pairs], "f": [p[1] for p in pairs]})
    got = ibis.duckdb.connect().execute(table.select(t=rfm.tier_expr(table.s, table.f)))
    assert got["t"].tolist() == [str(rfm.tier_for(s, f)) for s, f in pairs]


def test_ties_share_the_score_of_the_top_of_their_group() -> None:
    # 10 lines: frequency 0 ×2, 3 ×5, 6 ×3. Lines doing no better: 2, 7, 10 → scores 1, 4, 5.
    values = ibis.memtable({"frequency": [0] * 2 + [3] * 5 + [6] * 3})
    scores = rfm._scores(values, "frequency", name="f", lower_is_better=False, total=10)
    got = ibis.duckdb.connect().execute(scores).sort_values("f_value")
    assert got["f_score"].tolist() == [1, 4, 5]
    # Recency: lower is better, so the most recent (0 months) scores 5.
    recency = ibis.memtable({"recency_months": [0] * 6 + [1] * 2 + [5] * 2})
    scores = rfm._scores(recency, "recency_months", name="r", lower_is_better=True, total=10)
    got = ibis.duckdb.connect().execute(scores).sort_values("r_value")
    assert got["r_score"].tolist() == [5, 2, 1]


def test_month_index_makes_month_differences_subtractions() -> None:
    frame = pd.DataFrame({"d": pd.to_datetime(["2025-11-30", "2026-01-01", "2026-06-15"])})
    table = ibis.memtable(frame)
    got = ibis.duckdb.connect().execute(table.select(i=rfm.month_index(table.d.date())))["i"]
    assert got.tolist() == [2025 * 12 + 10, 2026 * 12, 2026 * 12 + 5]
    assert rfm.index_of(pd.Timestamp("2026-06-01").date()) == 2026 * 12 + 5
