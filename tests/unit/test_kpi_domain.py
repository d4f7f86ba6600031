"""Pure KPI rules: ratios from counts, change kinds, YoY presence, rankings."""

from __future__ import annotations

from datetime import date

import pytest

from telmark.analysis.kpi import domain
from telmark.analysis.kpi.schemas import KpiCounts


def _counts(**values: int) -> KpiCounts:
    return domain.zero_counts().model_copy(update=values)


def test_ratios_from_exact_counts() -> None:
    counts = _counts(
        subscribers=1_000, opening_subscribers=990, port_outs=12, revenue_fen=500_001,
        billed_lines=100, data_mb=1_234_500, voice_min=18_000, lines_5g=400,
        bundle_lines=150, complaints=3,
    )  # fmt: skip
    r = domain.ratios(counts)
    assert r.net_adds == 10
    assert r.churn_rate == pytest.approx(12 / 990)
    assert r.arpu_fen == 5000  # 5000.01 -> 5000
    assert domain.ratios(_counts(revenue_fen=501, billed_lines=2)).arpu_fen == 251  # half up
    assert r.dou_mb == pytest.approx(12_345)
    assert r.mou_min == pytest.approx(180)
    assert r.penetration_5g == pytest.approx(0.4)
    assert r.bundle_penetration == pytest.approx(0.15)
    assert r.complaint_rate == pytest.approx(30)


def test_ratios_with_empty_denominators_are_none() -> None:
    r = domain.ratios(domain.zero_counts())
    assert r.churn_rate is None
    assert r.arpu_fen is None
    assert r.dou_mb is None
    assert r.penetration_5g is None
    assert r.complaint_rate is None
    assert r.net_adds == 0


def test_change_kinds() -> None:
    assert domain.change("relative", 110, 100) == pytest.approx(0.1)
    assert domain.change("relative", 5, 0) is None
    assert domain.change("difference", 0.012, 0.010) == pytest.approx(0.002)
    assert domain.change("difference", 3, None) is None
    assert domain.KPIS["churn_rate"].change == "difference"
    assert domain.KPIS["arpu_fen"].change == "relative"


def test_series_mom_and_yoy() -> None:
    by_month = {
        date(2024, 2, 1): _counts(subscribers=80),
        date(2025, 1, 1): _counts(subscribers=100),
        date(2025, 2, 1): _counts(subscribers=120),
    }
    jan, feb = domain.series(by_month, [date(2025, 1, 1), date(2025, 2, 1)])
    assert jan.mom["subscribers"] is None
    assert jan.yoy is None
    assert feb.mom["subscribers"] == pytest.approx(0.2)
    assert feb.yoy is not None
    assert feb.yoy["subscribers"] == pytest.approx(0.5)
    assert domain.series({}, [date(2025, 3, 1)])[0].counts == domain.zero_counts()


def test_add_months_crosses_years() -> None:
    assert domain.add_months(date(2025, 1, 1), -1) == date(2024, 12, 1)
    assert domain.add_months(date(2025, 11, 1), 14) == date(2027, 1, 1)
    assert domain.add_months(date(2025, 6, 1), -12) == date(2024, 6, 1)


def test_ranks_respect_direction_and_ties() -> None:
    points = {
        unit: domain.series({date(2025, 1, 1): counts}, [date(2025, 1, 1)])[0]
        for unit, counts in {
            "A": _counts(subscribers=300, opening_subscribers=100, port_outs=5),
            "B": _counts(subscribers=300, opening_subscribers=100, port_outs=1),
            "C": _counts(subscribers=100),
        }.items()
    }
    ranks = domain.ranks(points)
    assert [ranks[u]["subscribers"] for u in "ABC"] == [1, 1, 3]
    assert ranks["B"]["churn_rate"] == 1  # lower churn is better
    assert ranks["A"]["churn_rate"] == 2
    assert ranks["C"]["churn_rate"] is None  # no opening base
