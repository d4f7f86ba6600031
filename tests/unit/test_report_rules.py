"""Which KPI movements the monthly report calls risks (the documented thresholds)."""

from __future__ import annotations

import pytest

from telmark.analysis.kpi.domain import KPIS
from telmark.analysis.report.rules import relative, risks
from telmark.analysis.report.schemas import KpiLine


def line(
    key: str, value: float | None, mom: float | None = None, yoy: float | None = None
) -> KpiLine:
    kpi = KPIS[key]
    return KpiLine(
        key=key,
        label=kpi.label,
        value=value,
        format=kpi.format,
        change_kind=kpi.change,
        higher_is_better=kpi.higher_is_better,
        mom=mom,
        yoy=yoy,
        rank=None,
    )


def test_churn_counts_as_a_risk_from_a_tenth_up_on_itself() -> None:
    # 1.00% → 1.10%: the cube reports +0.10 pp; relative to 1.00% that is +10%.
    up = line("churn_rate", 0.011, mom=0.001)
    assert relative(up, up.mom) == pytest.approx(0.10)
    assert [r.key for r in risks([up])] == ["churn_rate"]
    assert risks([line("churn_rate", 0.0109, mom=0.0009)]) == []
    # The same rule on the year before.
    yearly = risks([line("churn_rate", 0.012, mom=0.0, yoy=0.002)])
    assert [r.rule for r in yearly] == ["churn rate up 10 percent or more on a year before"]


def test_arpu_revenue_complaints_and_a_shrinking_base() -> None:
    found = risks(
        [
            line("arpu_fen", 4900, mom=-0.02),
            line("revenue_fen", 1_000_000, mom=-0.019),
            line("complaint_rate", 2.2, mom=0.10),
            line("net_adds", -1, mom=-5),
        ]
    )
    assert [r.key for r in found] == ["arpu_fen", "complaint_rate", "net_adds"]
    assert found[0].change == pytest.approx(-0.02)


def test_no_previous_month_no_risk() -> None:
    assert risks([line("churn_rate", 0.02), line("arpu_fen", None, mom=None)]) == []
    assert relative(line("churn_rate", 0.0, mom=0.0), 0.0) is None  # nothing to be relative to
