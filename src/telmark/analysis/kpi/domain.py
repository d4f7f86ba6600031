"""Pure KPI rules: ratios from exact integer counts, changes, rankings. No Ibis, no web."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from telmark.analysis.kpi.schemas import KpiCounts, KpiPoint, KpiRatios
from telmark.analysis.overview import arpu_fen, churn_rate
from telmark.translation import N_

# The additive measures of ``kpi_cube``, in column order.
MEASURES: tuple[str, ...] = tuple(KpiCounts.model_fields)

ChangeKind = Literal["relative", "difference"]
Source = Literal["counts", "ratios"]
Format = Literal["number", "yuan", "yuan_compact", "percent", "decimal"]


@dataclass(frozen=True, slots=True)
class Kpi:
    """How a KPI is read, changed, ranked and shown."""

    key: str
    label: str  # English msgid; translated by the pages
    source: Source
    change: ChangeKind  # relative: (now-before)/before; difference: now-before
    higher_is_better: bool
    format: Format


def _kpi(
    key: str, label: str, source: Source, change: ChangeKind, better: bool, fmt: Format
) -> Kpi:
    return Kpi(key, label, source, change, better, fmt)


# Every KPI the cube reports; keys of KpiPoint.mom/yoy and of rankings.
KPIS: dict[str, Kpi] = {
    k.key: k
    for k in (
        _kpi("subscribers", N_("Subscribers"), "counts", "relative", True, "number"),
        _kpi("net_adds", N_("Net adds"), "ratios", "difference", True, "number"),
        _kpi("gross_adds", N_("Gross adds"), "counts", "relative", True, "number"),
        _kpi("port_outs", N_("Port-outs"), "counts", "relative", False, "number"),
        _kpi("churn_rate", N_("Port-out churn rate"), "ratios", "difference", False, "percent"),
        _kpi("revenue_fen", N_("Revenue"), "counts", "relative", True, "yuan_compact"),
        _kpi("arpu_fen", N_("ARPU"), "ratios", "relative", True, "yuan"),
        _kpi("dou_mb", N_("DOU (MB)"), "ratios", "relative", True, "decimal"),
        _kpi("mou_min", N_("MOU (min)"), "ratios", "relative", True, "decimal"),
        _kpi("penetration_5g", N_("5G penetration"), "ratios", "difference", True, "percent"),
        _kpi(
            "bundle_penetration", N_("Bundle penetration"), "ratios", "difference", True, "percent"
        ),
        _kpi(
            "complaint_rate",
            N_("Complaints per 1,000 lines"),
            "ratios",
            "relative",
            False,
            "decimal",
        ),
    )
}


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else numerator / denominator


def ratios(counts: KpiCounts) -> KpiRatios:
    """Every derived KPI of one slice-month from its exact counts."""
    lines = counts.billed_lines
    return KpiRatios(
        net_adds=counts.subscribers - counts.opening_subscribers,
        churn_rate=churn_rate(counts.port_outs, counts.opening_subscribers),
        arpu_fen=arpu_fen(counts.revenue_fen, lines),
        dou_mb=_ratio(counts.data_mb, lines),
        mou_min=_ratio(counts.voice_min, lines),
        penetration_5g=_ratio(counts.lines_5g, counts.subscribers),
        bundle_penetration=_ratio(counts.bundle_lines, counts.subscribers),
        complaint_rate=None if lines <= 0 else 1000 * counts.complaints / lines,
    )


def value(counts: KpiCounts, derived: KpiRatios, key: str) -> float | None:
    """The value of KPI ``key`` from counts and ratios."""
    source = counts if KPIS[key].source == "counts" else derived
    result: float | None = getattr(source, key)
    return result


def kpi_value(point: KpiPoint, key: str) -> float | None:
    """The value of KPI ``key`` in ``point``."""
    return value(point.counts, point.ratios, key)


def change(kind: ChangeKind, now: float | None, before: float | None) -> float | None:
    """A relative change or a difference; None when a side (or a relative base of 0) is missing."""
    if now is None or before is None:
        return None
    if kind == "difference":
        return now - before
    if before == 0:
        return None
    return (now - before) / before


def changes(
    counts: KpiCounts, derived: KpiRatios, before: KpiCounts | None
) -> dict[str, float | None]:
    """The change of every KPI on an earlier month (all None without one)."""
    if before is None:
        return dict.fromkeys(KPIS)
    before_ratios = ratios(before)
    return {
        key: change(kpi.change, value(counts, derived, key), value(before, before_ratios, key))
        for key, kpi in KPIS.items()
    }


def add_months(month: date, offset: int) -> date:
    """The first day of the month ``offset`` months after ``month`` (negative: before)."""
    index = month.year * 12 + month.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


def zero_counts() -> KpiCounts:
    """Counts of a slice with no rows."""
    return KpiCounts(**dict.fromkeys(MEASURES, 0))


def sum_counts(rows: Iterable[Mapping[str, object]]) -> KpiCounts:
    """Exact sums of the measures over cube rows."""
    totals = dict.fromkeys(MEASURES, 0)
    for row in rows:
        for name in MEASURES:
            raw = row[name]
            totals[name] += int(raw) if isinstance(raw, int | float) else 0
    return KpiCounts(**totals)


def series(by_month: Mapping[date, KpiCounts], months: Sequence[date]) -> list[KpiPoint]:
    """KPI points for ``months`` with MoM and YoY from ``by_month`` (which may hold earlier months).

    YoY is None when the month a year earlier is not in ``by_month``; MoM
    changes are None when the previous month is not.
    """
    points = []
    for month in months:
        counts = by_month.get(month, zero_counts())
        derived = ratios(counts)
        year_ago = by_month.get(add_months(month, -12))
        points.append(
            KpiPoint(
                month=month,
                counts=counts,
                ratios=derived,
                mom=changes(counts, derived, by_month.get(add_months(month, -1))),
                yoy=None if year_ago is None else changes(counts, derived, year_ago),
            )
        )
    return points


def ranks(points: Mapping[str, KpiPoint]) -> dict[str, dict[str, int | None]]:
    """Rank of every member per KPI (1 = best; ties share the better rank; None if undefined)."""
    result: dict[str, dict[str, int | None]] = {member: {} for member in points}
    for key, kpi in KPIS.items():
        values = {m: kpi_value(p, key) for m, p in points.items()}
        defined = [v for v in values.values() if v is not None]
        for member, v in values.items():
            if v is None:
                result[member][key] = None
                continue
            better = sum(
                1 for other in defined if (other > v if kpi.higher_is_better else other < v)
            )
            result[member][key] = better + 1
    return result
