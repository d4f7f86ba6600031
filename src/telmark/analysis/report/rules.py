"""Pure rules of the monthly report: which KPI movements count as risks, tenure bands.

A KPI is reported as a risk when it crossed one of these thresholds (chosen
so that ordinary month-to-month noise of a city's figures stays quiet):

- port-out churn rate up by 10 percent or more of itself on the month before
  (e.g. 1.00% → 1.10%), or on the same month a year before;
- ARPU down by 2 percent or more on the month before;
- revenue down by 2 percent or more on the month before;
- complaints per 1,000 lines up by 10 percent or more on the month before;
- net adds below zero (the base shrank).

The churn rate's MoM/YoY arrive from the KPI cube as differences of
fractions; the relative change is derived from that difference and the
current value (before = now − difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from telmark.analysis.report.schemas import KpiLine, Risk
from telmark.translation import N_

Measure = Literal["relative_mom", "relative_yoy", "value"]


@dataclass(frozen=True, slots=True)
class RiskRule:
    key: str
    measure: Measure
    threshold: float  # risk when the measure is >= threshold (or <= for a negative one)
    rule: str  # English description, shown in the report


RISK_RULES: tuple[RiskRule, ...] = (
    RiskRule(
        "churn_rate",
        "relative_mom",
        0.10,
        N_("churn rate up 10 percent or more on the month before"),
    ),
    RiskRule(
        "churn_rate", "relative_yoy", 0.10, N_("churn rate up 10 percent or more on a year before")
    ),
    RiskRule(
        "arpu_fen", "relative_mom", -0.02, N_("ARPU down 2 percent or more on the month before")
    ),
    RiskRule(
        "revenue_fen",
        "relative_mom",
        -0.02,
        N_("revenue down 2 percent or more on the month before"),
    ),
    RiskRule(
        "complaint_rate",
        "relative_mom",
        0.10,
        N_("complaint rate up 10 percent or more on the month before"),
    ),
    RiskRule("net_adds", "value", -0.5, N_("net adds below zero: the base shrank")),
)
WORST_DISTRICTS = 3


def relative(line: KpiLine, change: float | None) -> float | None:
    """A change as a fraction of the earlier value, whatever kind the cube reports."""
    if change is None or line.value is None:
        return None
    if line.change_kind == "relative":
        return change
    before = line.value - change
    if before <= 0:
        return None
    return change / before


def _measure(rule: RiskRule, line: KpiLine) -> float | None:
    if rule.measure == "relative_mom":
        return relative(line, line.mom)
    if rule.measure == "relative_yoy":
        return relative(line, line.yoy)
    return line.value


def risks(lines: Sequence[KpiLine]) -> list[Risk]:
    """The KPIs of ``lines`` that crossed a rule of ``RISK_RULES``, in rule order."""
    by_key = {line.key: line for line in lines}
    found: list[Risk] = []
    for rule in RISK_RULES:
        line = by_key.get(rule.key)
        if line is None:
            continue
        measured = _measure(rule, line)
        if measured is None:
            continue
        crossed = measured >= rule.threshold if rule.threshold > 0 else measured <= rule.threshold
        if crossed:
            found.append(
                Risk(
                    key=line.key,
                    label=line.label,
                    rule=rule.rule,
                    change=measured,
                    value=line.value,
                )
            )
    return found


TENURE_BANDS: tuple[tuple[int, str], ...] = ((12, "0-1y"), (36, "1-3y"), (60, "3-5y"))
LONGEST_BAND = "5y+"
