"""Revenue projection of a marketing case (收益测算), pure integer arithmetic in fen.

For a snapshot of ``members`` and a control group of ``holdout_bp``:

- targets       = members − round(members × holdout_bp / 10000)   (the control is not contacted)
- per plan line (offer × channel):
  contacts      = round(targets × reach_bp / 10000)
  takers        = round(contacts × take_up_bp / 10000)
- one-off costs (month 1): incentive = Σ takers × the offer's net incentive cost per taker;
  contact cost = Σ contacts × the line's cost per contact
- monthly: revenue = Σ takers × the offer's incremental monthly revenue; channel cost =
  Σ takers × the offer's monthly channel commission; for retention objectives, retained
  revenue = Σ round(takers × churn probability (bp) × ARPU / 10000) — the revenue of the
  takers who would otherwise have left, from ``churn_scores`` and ``customer_value``
- over ``horizon_months`` H: incremental revenue = H × monthly revenue (+ H × retained);
  cost = incentive + contact cost + H × channel cost; net = revenue − cost;
  ROI = net / cost (bp); payback month = first month whose cumulative net is ≥ 0.

Sensitivity repeats the sums with every line's take-up scaled by 50 %–150 %
(capped at 100 %). Rounding is half up, once per line, so totals are sums of
whole fen and the hand-checked tests stay exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from telmark.cases.domain import BP
from telmark.errors import InvalidInput
from telmark.offers.domain import payback_months
from telmark.offers.tools import round_half_up

SENSITIVITY_BP = (5_000, 7_500, 10_000, 12_500, 15_000)


@dataclass(frozen=True, slots=True)
class Line:
    """One offer through one channel: whom it reaches, who takes it, what a contact costs."""

    offer_code: str
    channel: str
    reach_bp: int
    take_up_bp: int
    contact_cost_fen: int


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """Per-taker economics of an offer (``offers.domain.economics``)."""

    net_incentive_cost_fen: int
    incremental_monthly_revenue_fen: int
    channel_cost_fen_per_month: int


@dataclass(frozen=True, slots=True)
class RetentionBasis:
    """Averages over the snapshot's members, from the warehouse's analysis tables."""

    churn_probability_bp: int
    arpu_fen: int


@dataclass(frozen=True, slots=True)
class LineResult:
    offer_code: str
    channel: str
    contacts: int
    takers: int
    incentive_cost_fen: int
    contact_cost_fen: int
    monthly_revenue_fen: int
    monthly_channel_cost_fen: int
    monthly_retained_revenue_fen: int


@dataclass(frozen=True, slots=True)
class Totals:
    contacts: int
    takers: int
    incremental_revenue_fen: int
    retained_revenue_fen: int
    incentive_cost_fen: int
    channel_cost_fen: int
    cost_fen: int
    net_fen: int
    roi_bp: int | None  # None when nothing is spent
    payback_month: int | None  # None when the monthly net never covers the one-off cost


@dataclass(frozen=True, slots=True)
class MonthPoint:
    month: int
    benefit_fen: int
    cost_fen: int
    cumulative_net_fen: int


@dataclass(frozen=True, slots=True)
class SensitivityRow:
    take_up_factor_bp: int
    totals: Totals


@dataclass(frozen=True, slots=True)
class Projection:
    members: int
    targets: int
    control: int
    horizon_months: int
    lines: tuple[LineResult, ...]
    totals: Totals
    series: tuple[MonthPoint, ...]
    sensitivity: tuple[SensitivityRow, ...]
    retention_applied: bool
    notes: tuple[str, ...] = field(default=())


def _signed_bp(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` in bp, halves away from zero (a loss gives a negative ROI)."""
    magnitude = round_half_up(abs(numerator) * BP, denominator)
    return -magnitude if numerator < 0 else magnitude


def _line(
    line: Line, targets: int, terms: OfferTerms, retention: RetentionBasis | None
) -> LineResult:
    contacts = round_half_up(targets * line.reach_bp, BP)
    takers = round_half_up(contacts * min(line.take_up_bp, BP), BP)
    retained = 0
    if retention is not None:
        retained = round_half_up(takers * retention.churn_probability_bp * retention.arpu_fen, BP)
    return LineResult(
        offer_code=line.offer_code,
        channel=line.channel,
        contacts=contacts,
        takers=takers,
        incentive_cost_fen=takers * terms.net_incentive_cost_fen,
        contact_cost_fen=contacts * line.contact_cost_fen,
        monthly_revenue_fen=takers * terms.incremental_monthly_revenue_fen,
        monthly_channel_cost_fen=takers * terms.channel_cost_fen_per_month,
        monthly_retained_revenue_fen=retained,
    )


def _totals(results: Sequence[LineResult], horizon: int) -> tuple[Totals, int, int, int]:
    """Totals, plus the one-off cost, monthly benefit and monthly cost behind them."""
    incentive = sum(r.incentive_cost_fen for r in results)
    contact = sum(r.contact_cost_fen for r in results)
    monthly_revenue = sum(r.monthly_revenue_fen for r in results)
    monthly_retained = sum(r.monthly_retained_revenue_fen for r in results)
    monthly_channel = sum(r.monthly_channel_cost_fen for r in results)
    revenue = horizon * monthly_revenue
    retained = horizon * monthly_retained
    channel = contact + horizon * monthly_channel
    cost = incentive + channel
    net = revenue + retained - cost
    one_off = incentive + contact
    monthly_benefit = monthly_revenue + monthly_retained
    totals = Totals(
        contacts=sum(r.contacts for r in results),
        takers=sum(r.takers for r in results),
        incremental_revenue_fen=revenue,
        retained_revenue_fen=retained,
        incentive_cost_fen=incentive,
        channel_cost_fen=channel,
        cost_fen=cost,
        net_fen=net,
        roi_bp=None if cost == 0 else _signed_bp(net, cost),
        payback_month=payback_months(one_off, monthly_benefit - monthly_channel),
    )
    return totals, one_off, monthly_benefit, monthly_channel


def check_lines(lines: Sequence[Line], offers: Mapping[str, OfferTerms]) -> None:
    """InvalidInput naming every bad line: unknown offer, bp out of range, reach over 100 %."""
    problems: list[dict[str, object]] = []
    reach: dict[str, int] = {}
    for i, line in enumerate(lines):
        where = f"lines[{i}]"
        if line.offer_code not in offers:
            problems.append({"field": f"{where}.offer_code", "reason": "no such offer"})
        for name in ("reach_bp", "take_up_bp"):
            if not 0 <= getattr(line, name) <= BP:
                problems.append({"field": f"{where}.{name}", "reason": f"between 0 and {BP}"})
        if line.contact_cost_fen < 0:
            problems.append({"field": f"{where}.contact_cost_fen", "reason": "not negative"})
        reach[line.offer_code] = reach.get(line.offer_code, 0) + line.reach_bp
    # Summing one offer's reach over channels above 100 % would count a taker twice.
    problems.extend(
        {"field": "lines", "reason": f"offer {code}: reach over all channels exceeds {BP} bp"}
        for code, total in reach.items()
        if total > BP
    )
    if problems:
        raise InvalidInput("lines: the plan has problems", details=problems)


def project(
    *,
    members: int,
    holdout_bp: int,
    horizon_months: int,
    lines: Sequence[Line],
    offers: Mapping[str, OfferTerms],
    retention: RetentionBasis | None = None,
    notes: Sequence[str] = (),
) -> Projection:
    """The projection of a plan (see the module docstring for every formula)."""
    if members < 0:
        raise InvalidInput("members: must not be negative", details=[{"field": "members"}])
    if not 0 <= holdout_bp < BP:
        raise InvalidInput("holdout_bp: between 0 and 9999", details=[{"field": "holdout_bp"}])
    if horizon_months < 1:
        raise InvalidInput("horizon_months: at least 1", details=[{"field": "horizon_months"}])
    check_lines(lines, offers)
    control = round_half_up(members * holdout_bp, BP)
    targets = members - control
    results = tuple(_line(ln, targets, offers[ln.offer_code], retention) for ln in lines)
    totals, one_off, monthly_benefit, monthly_cost = _totals(results, horizon_months)
    series: list[MonthPoint] = []
    cumulative = 0
    for month in range(1, horizon_months + 1):
        cost = monthly_cost + (one_off if month == 1 else 0)
        cumulative += monthly_benefit - cost
        series.append(MonthPoint(month, monthly_benefit, cost, cumulative))
    sensitivity = []
    for factor in SENSITIVITY_BP:
        scaled = [
            _line(
                Line(
                    ln.offer_code,
                    ln.channel,
                    ln.reach_bp,
                    min(BP, round_half_up(ln.take_up_bp * factor, BP)),
                    ln.contact_cost_fen,
                ),
                targets,
                offers[ln.offer_code],
                retention,
            )
            for ln in lines
        ]
        sensitivity.append(SensitivityRow(factor, _totals(scaled, horizon_months)[0]))
    return Projection(
        members=members,
        targets=targets,
        control=control,
        horizon_months=horizon_months,
        lines=results,
        totals=totals,
        series=tuple(series),
        sensitivity=tuple(sensitivity),
        retention_applied=retention is not None,
        notes=tuple(notes),
    )
