"""Evaluating a marketing case from its counts: treatment against control, cost, ROI, projection.

Pure: the counts come from ``service`` (one aggregation over the case's exposures and
attributions); the statistics are the experiment evaluation's (``evaluation.domain`` and
``evaluation.stats``), so a case and an uploaded A/B file are judged by the same rules.

**Who is compared.** Treatment: the subscribers the case reached (a message sent, a
front-line task that reached the customer). Control: the subscribers its targeting runs
held back, "exposed" on the day they would have been contacted. Both are followed by the
same last-touch attribution (``execution.responses``), so their take-up is comparable. A
breakdown key (city, channel, offer) counts a subscriber under each key it was exposed
under, and a responder under the key of its last touch, as ``response_counts`` does.

**Figures of a cell** (the whole case, or one key of a breakdown):

- take-up of each group with Wilson intervals; absolute uplift (treatment − control) with
  Newcombe's hybrid score interval; relative uplift with the Katz log interval; the z test,
  or Fisher's exact test at small expected counts (``evaluation.stats`` says why each);
- the keys of one breakdown are several comparisons of one case: their p-values are
  Holm-adjusted across the keys, and "significant" means the adjusted p-value is below 5 %;
- **incremental revenue**: the difference of the groups' mean monthly revenue change per
  exposed subscriber (every attributed event, guardrails included: a port-out's lost revenue
  counts), Welch's t interval, times the treatment's exposed subscribers and the case's
  horizon in months (from the projection; the case's own horizon without one);
- **cost**: the incentive of every treatment taker (each offer's net incentive cost per
  taker, as the projection priced it), the contact cost of every contact made (the plan
  line's cost per contact for the offer and channel) and the channel commission per taker
  per month over the horizon. Cost is what was actually spent, so it is taken as known:
  the ROI interval comes from the revenue interval alone. Takers who would have taken up
  anyway are paid too: that is the honest cost of the uplift;
- **incremental ROI** = (incremental revenue − cost) / cost;
- **guardrails** (complaint, opt-out, port-out): the share of each group with such an event,
  compared the same way. Here a rise is bad: a significant rise is flagged as harm;
- **minimum detectable uplift**: at evaluation, with the exposed sizes and the control's
  observed rate ("this case could only detect ≥ x points"); at planning, with the sizes
  the projection planned (contacts and control) at the same observed control rate, since
  the control rate is not known before the case runs.

**Projection against actual** (``compare_projection``). The approved projection counted
every taker as incremental: projected revenue R_p = T_p · u_p · v_p · H, with T_p the
planned contacts, u_p the expected take-up, v_p the monthly revenue per taker and H the
horizon. The measured result reads the same way with T_a the treatment's exposed
subscribers, u_a the measured uplift and v_a the measured incremental monthly revenue per
incremental taker (R_a / (T_a · u_a · H)). The difference of net results splits exactly
into four parts, each changing one factor in turn (size, then take-up, then value):

    size     = (T_a − T_p) · u_p · v_p · H
    take-up  = T_a · (u_a − u_p) · v_p · H
    value    = R_a − T_a · u_a · v_p · H
    cost     = −(C_a − C_p)
    size + take-up + value + cost = (R_a − C_a) − (R_p − C_p)

The parts depend on the order (the usual property of a chain decomposition); this order
reads as "did we reach whom we planned, did they respond as planned, were they worth what
we planned, did it cost what we planned".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from telmark.evaluation import power, stats
from telmark.evaluation.domain import (
    ALPHA,
    CONFIDENCE,
    ArmRate,
    Comparison,
    OutcomeCounts,
    arm_rate,
    compare_rates,
)
from telmark.translation import N_

BP = 10_000
TREATMENT, CONTROL = "treatment", "control"
GUARDRAILS = ("complaint", "opt_out", "port_out")
GUARDRAIL_LABELS: dict[str, str] = {
    "complaint": N_("Complaints"),
    "opt_out": N_("Opt-outs"),
    "port_out": N_("Port-outs"),
}


class Dimension(StrEnum):
    """What a case evaluation is broken down by (the exposure's column of the same name)."""

    CITY = "city"
    CHANNEL = "channel"
    OFFER = "offer"


DIMENSION_LABELS: dict[Dimension, str] = {
    Dimension.CITY: N_("City"),
    Dimension.CHANNEL: N_("Channel"),
    Dimension.OFFER: N_("Offer"),
}
# The segment breakdown: a case targets one frozen segment snapshot, so there is only one
# segment to show; it is reported as skipped rather than as a one-row table.
SEGMENT_NOTE = N_(
    "No breakdown by segment: the case targets a single segment snapshot, which is the whole case."
)
NO_PROJECTION_NOTE = N_(
    "The case has no approved projection: costs, ROI and the comparison with the projection "
    "are not available."
)

METHODS: dict[str, str] = {
    "rate_interval": N_("Wilson score interval"),
    "uplift_interval": N_("Newcombe hybrid score interval (method 10)"),
    "relative_interval": N_("Katz log interval of the rate ratio (½ added to each cell at 0)"),
    "test": N_("Two-sided two-proportion z test; Fisher exact when an expected count is below 5"),
    "breakdown": N_("Holm step-down adjustment across the keys of one breakdown"),
    "revenue_interval": N_(
        "Welch t interval of the difference in mean monthly revenue per exposed subscriber, "
        "times the treated subscribers and the horizon"
    ),
    "roi_interval": N_("Cost taken as known (what was spent); the interval is the revenue's"),
    "detectable_uplift": N_("Arcsine approximation, two-sided alpha 0.05, power 0.8"),
    "decomposition": N_("Chain decomposition: size, then take-up, then value, then cost"),
}


# -- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """One group's counts in one cell (distinct subscribers; revenue in fen per month)."""

    exposed: int
    responders: int
    guardrails: Mapping[str, int]
    revenue_sum_fen: int  # Σ over exposed subscribers of their attributed monthly revenue
    revenue_sumsq: int  # Σ of its square per subscriber (for the variance)

    @staticmethod
    def empty() -> GroupCounts:
        return GroupCounts(0, 0, {}, 0, 0)


@dataclass(frozen=True, slots=True)
class CostPart:
    """Treatment contacts and takers of one offer through one channel within a cell."""

    offer_code: str | None
    channel: str | None
    contacts: int
    takers: int


@dataclass(frozen=True, slots=True)
class CellCounts:
    key: str | None  # None: the whole case
    treatment: GroupCounts
    control: GroupCounts
    costs: Sequence[CostPart] = ()


@dataclass(frozen=True, slots=True)
class OfferPrice:
    """An offer's economics per taker, as the approved projection priced them (fen)."""

    net_incentive_cost_fen: int
    incremental_monthly_revenue_fen: int
    channel_cost_fen_per_month: int


@dataclass(frozen=True, slots=True)
class Pricing:
    """What a case's contacts and takers cost: offer economics and each line's contact cost."""

    horizon_months: int
    offers: Mapping[str, OfferPrice]
    contact_cost_fen: Mapping[tuple[str, str], int]  # (offer, channel) → per contact


@dataclass(frozen=True, slots=True)
class Plan:
    """The approved projection's figures the evaluation is compared with (fen, counts)."""

    contacts: int
    control: int
    takers: int
    revenue_fen: int  # incremental + retained revenue over the horizon
    cost_fen: int
    net_fen: int
    roi_bp: int | None
    horizon_months: int

    @property
    def take_up(self) -> float | None:
        return None if self.contacts == 0 else self.takers / self.contacts

    @property
    def value_fen(self) -> float | None:
        """Monthly revenue per taker."""
        if self.takers == 0 or self.horizon_months == 0:
            return None
        return self.revenue_fen / (self.takers * self.horizon_months)


# -- outputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revenue:
    """Incremental revenue: per exposed subscriber and month, and over the horizon (fen)."""

    per_subscriber_fen: float | None
    per_subscriber_low: float | None
    per_subscriber_high: float | None
    p_value: float | None
    total_fen: int | None
    total_low_fen: int | None
    total_high_fen: int | None


@dataclass(frozen=True, slots=True)
class Cost:
    incentive_fen: int
    contact_fen: int
    commission_fen: int
    contacts: int
    takers: int

    @property
    def total_fen(self) -> int:
        return self.incentive_fen + self.contact_fen + self.commission_fen


@dataclass(frozen=True, slots=True)
class Roi:
    net_fen: int | None
    roi_bp: int | None
    low_bp: int | None
    high_bp: int | None


@dataclass(frozen=True, slots=True)
class Guardrail:
    kind: str
    treatment: ArmRate
    control: ArmRate
    comparison: Comparison
    harmful: bool  # a significant rise in treatment


@dataclass(frozen=True, slots=True)
class Cell:
    key: str | None
    treatment: ArmRate
    control: ArmRate
    comparison: Comparison
    guardrails: list[Guardrail]
    revenue: Revenue
    cost: Cost | None  # None when the case has no approved projection to price it
    roi: Roi | None


@dataclass(frozen=True, slots=True)
class Breakdown:
    dimension: Dimension
    cells: list[Cell]


@dataclass(frozen=True, slots=True)
class CurvePoint:
    day: int
    treatment: float | None
    control: float | None


@dataclass(frozen=True, slots=True)
class Effect:
    """One part of the projection-against-actual decomposition (fen)."""

    part: str
    fen: int | None


@dataclass(frozen=True, slots=True)
class ProjectionComparison:
    planned_contacts: int
    actual_contacts: int
    planned_take_up: float | None
    actual_uplift: float | None
    planned_value_fen: float | None
    actual_value_fen: float | None
    planned_revenue_fen: int
    actual_revenue_fen: int | None
    planned_cost_fen: int
    actual_cost_fen: int
    planned_net_fen: int
    actual_net_fen: int | None
    planned_roi_bp: int | None
    actual_roi_bp: int | None
    effects: list[Effect]


@dataclass(frozen=True, slots=True)
class Detectable:
    planned: float | None  # at the projection's sizes
    actual: float | None  # at the exposed sizes


@dataclass(frozen=True, slots=True)
class CaseResult:
    overall: Cell
    breakdowns: list[Breakdown]
    curve: list[CurvePoint]
    detectable: Detectable
    projection: ProjectionComparison | None
    horizon_months: int
    notes: list[str] = field(default_factory=list)


# -- one cell ----------------------------------------------------------------------------------


def _rate(label: str, successes: int, exposed: int) -> ArmRate:
    counts = OutcomeCounts(successes=successes, known=exposed, missing=0)
    return arm_rate(label, exposed, counts, confidence=CONFIDENCE)


def compare(
    treatment: tuple[int, int], control: tuple[int, int]
) -> tuple[ArmRate, ArmRate, Comparison, float | None]:
    """(successes, exposed) of each group → both rates, the comparison and its raw p-value."""
    t = _rate(TREATMENT, *treatment)
    c = _rate(CONTROL, *control)
    comparison, p_value = compare_rates(t, c, confidence=CONFIDENCE)
    return t, c, replace(comparison, p_adjusted=p_value, significant=_below(p_value)), p_value


def _below(p_value: float | None) -> bool:
    return p_value is not None and p_value < ALPHA


def _moments(group: GroupCounts) -> tuple[float, float] | None:
    """Mean and sample variance of the monthly revenue per exposed subscriber."""
    n = group.exposed
    if n < 2:
        return None
    mean = group.revenue_sum_fen / n
    # Σx² − n·mean², in integers first: the cancellation in floats loses everything at 10M.
    centred = group.revenue_sumsq * n - group.revenue_sum_fen**2
    return mean, max(centred, 0) / (n * (n - 1))


def revenue(cell: CellCounts, horizon_months: int) -> Revenue:
    """Incremental monthly revenue per exposed subscriber (Welch) and over the horizon."""
    t, c = _moments(cell.treatment), _moments(cell.control)
    if t is None or c is None:
        return Revenue(None, None, None, None, None, None, None)
    difference, low, high, p_value = stats.welch(
        t[0], t[1], cell.treatment.exposed, c[0], c[1], cell.control.exposed,
        confidence=CONFIDENCE,
    )  # fmt: skip
    scale = cell.treatment.exposed * horizon_months
    return Revenue(
        per_subscriber_fen=difference,
        per_subscriber_low=low,
        per_subscriber_high=high,
        p_value=p_value,
        total_fen=round(difference * scale),
        total_low_fen=round(low * scale),
        total_high_fen=round(high * scale),
    )


def cost(parts: Sequence[CostPart], pricing: Pricing) -> Cost:
    """What the contacts and takers of ``parts`` cost at the projection's prices."""
    incentive = contact = commission = 0
    for part in parts:
        price = pricing.offers.get(part.offer_code or "")
        if price is not None:
            incentive += part.takers * price.net_incentive_cost_fen
            commission += part.takers * price.channel_cost_fen_per_month * pricing.horizon_months
        per_contact = pricing.contact_cost_fen.get((part.offer_code or "", part.channel or ""), 0)
        contact += part.contacts * per_contact
    return Cost(
        incentive_fen=incentive,
        contact_fen=contact,
        commission_fen=commission,
        contacts=sum(p.contacts for p in parts),
        takers=sum(p.takers for p in parts),
    )


def _ratio_bp(numerator: float, denominator: int) -> int:
    return round(numerator * BP / denominator)


def roi(gain: Revenue, spent: Cost) -> Roi:
    """Net and ROI of the incremental revenue against the cost (None without a cost)."""
    if gain.total_fen is None:
        return Roi(None, None, None, None)
    total = spent.total_fen
    net = gain.total_fen - total
    if total == 0:
        return Roi(net, None, None, None)
    assert gain.total_low_fen is not None
    assert gain.total_high_fen is not None
    return Roi(
        net_fen=net,
        roi_bp=_ratio_bp(net, total),
        low_bp=_ratio_bp(gain.total_low_fen - total, total),
        high_bp=_ratio_bp(gain.total_high_fen - total, total),
    )


def _guardrails(cell: CellCounts) -> tuple[list[Guardrail], list[float | None]]:
    found: list[Guardrail] = []
    raw: list[float | None] = []
    for kind in GUARDRAILS:
        t, c, comparison, p_value = compare(
            (cell.treatment.guardrails.get(kind, 0), cell.treatment.exposed),
            (cell.control.guardrails.get(kind, 0), cell.control.exposed),
        )
        found.append(Guardrail(kind, t, c, comparison, _harmful(comparison)))
        raw.append(p_value)
    return found, raw


def _harmful(comparison: Comparison) -> bool:
    return comparison.significant and (comparison.uplift or 0) > 0


def evaluate_cell(cell: CellCounts, *, pricing: Pricing | None, horizon_months: int) -> Cell:
    """Every figure of one cell (unadjusted: ``evaluate_breakdown`` adjusts across keys)."""
    t, c, comparison, _ = compare(
        (cell.treatment.responders, cell.treatment.exposed),
        (cell.control.responders, cell.control.exposed),
    )
    guardrails, _ = _guardrails(cell)
    gain = revenue(cell, horizon_months)
    spent = None if pricing is None else cost(cell.costs, pricing)
    return Cell(
        key=cell.key,
        treatment=t,
        control=c,
        comparison=comparison,
        guardrails=guardrails,
        revenue=gain,
        cost=spent,
        roi=None if spent is None else roi(gain, spent),
    )


def _adjusted(comparisons: list[Comparison]) -> list[Comparison]:
    adjusted = stats.holm([c.p_value for c in comparisons])
    return [
        replace(c, p_adjusted=p, significant=_below(p))
        for c, p in zip(comparisons, adjusted, strict=True)
    ]


def evaluate_breakdown(
    dimension: Dimension,
    cells: Sequence[CellCounts],
    *,
    pricing: Pricing | None,
    horizon_months: int,
) -> Breakdown:
    """Every key's cell, its uplift and guardrail p-values Holm-adjusted across the keys."""
    found = [evaluate_cell(c, pricing=pricing, horizon_months=horizon_months) for c in cells]
    uplifts = _adjusted([c.comparison for c in found])
    per_kind = [
        _adjusted([c.guardrails[i].comparison for c in found]) for i in range(len(GUARDRAILS))
    ]
    result = []
    for index, cell in enumerate(found):
        guardrails = [
            replace(g, comparison=per_kind[i][index], harmful=_harmful(per_kind[i][index]))
            for i, g in enumerate(cell.guardrails)
        ]
        result.append(replace(cell, comparison=uplifts[index], guardrails=guardrails))
    return Breakdown(dimension=dimension, cells=result)


# -- curves, power, the projection -------------------------------------------------------------


def cumulative_curve(
    daily: Mapping[str, Mapping[int, int]], exposed: Mapping[str, int], *, days: int
) -> list[CurvePoint]:
    """Share of each group that has taken up by each day since exposure (day 0 = same day)."""
    points: list[CurvePoint] = []
    running = {TREATMENT: 0, CONTROL: 0}
    for day in range(days + 1):
        shares: dict[str, float | None] = {}
        for group in (TREATMENT, CONTROL):
            running[group] += daily.get(group, {}).get(day, 0)
            n = exposed.get(group, 0)
            shares[group] = running[group] / n if n else None
        points.append(CurvePoint(day, shares[TREATMENT], shares[CONTROL]))
    return points


def detectable(overall: Cell, plan: Plan | None) -> Detectable:
    """The smallest uplift the case could detect: at the planned and at the exposed sizes."""
    base = overall.control.rate
    if base is None:
        return Detectable(None, None)
    actual = None
    if overall.treatment.customers and overall.control.customers:
        actual = power.detectable_uplift(
            base_rate=base,
            n_treatment=overall.treatment.customers,
            n_control=overall.control.customers,
        )
    planned = None
    if plan is not None and plan.contacts > 0 and plan.control > 0:
        planned = power.detectable_uplift(
            base_rate=base, n_treatment=plan.contacts, n_control=plan.control
        )
    return Detectable(planned=planned, actual=actual)


def compare_projection(plan: Plan, overall: Cell) -> ProjectionComparison:
    """The approved projection beside the measured result, and the decomposition (module doc)."""
    assert overall.cost is not None  # a plan always prices the case
    t_p, t_a = plan.contacts, overall.treatment.customers
    u_p, u_a = plan.take_up or 0.0, overall.comparison.uplift
    v_p = plan.value_fen or 0.0
    h = plan.horizon_months
    r_a = overall.revenue.total_fen
    c_a = overall.cost.total_fen
    actual_value = None
    if r_a is not None and u_a and t_a:
        actual_value = r_a / (t_a * u_a * h)
    effects: list[Effect]
    if r_a is None or u_a is None:
        effects = [Effect(p, None) for p in ("size", "take_up", "value")]
    else:
        effects = [
            Effect("size", round((t_a - t_p) * u_p * v_p * h)),
            Effect("take_up", round(t_a * (u_a - u_p) * v_p * h)),
            Effect("value", round(r_a - t_a * u_a * v_p * h)),
        ]
    effects.append(Effect("cost", -(c_a - plan.cost_fen)))
    actual_net = None if r_a is None else r_a - c_a
    if actual_net is not None:
        # The rounded parts must still add up to the difference: the rounding goes to value.
        known = sum(e.fen or 0 for e in effects if e.part != "value")
        effects[2] = Effect("value", actual_net - plan.net_fen - known)
    return ProjectionComparison(
        planned_contacts=t_p,
        actual_contacts=t_a,
        planned_take_up=plan.take_up,
        actual_uplift=u_a,
        planned_value_fen=plan.value_fen,
        actual_value_fen=actual_value,
        planned_revenue_fen=plan.revenue_fen,
        actual_revenue_fen=r_a,
        planned_cost_fen=plan.cost_fen,
        actual_cost_fen=c_a,
        planned_net_fen=plan.net_fen,
        actual_net_fen=actual_net,
        planned_roi_bp=plan.roi_bp,
        actual_roi_bp=None if overall.roi is None else overall.roi.roi_bp,
        effects=effects,
    )


def plan_from_projection(projection: Mapping[str, Any]) -> tuple[Plan, Pricing] | None:
    """The frozen projection's totals and prices, or None when it has none (never approved)."""
    totals = projection.get("totals")
    if not projection.get("available") or not totals:
        return None
    horizon = int(projection.get("horizon_months") or 0)
    plan = Plan(
        contacts=int(totals["contacts"]),
        control=int(projection.get("control") or 0),
        takers=int(totals["takers"]),
        revenue_fen=int(totals["incremental_revenue_fen"]) + int(totals["retained_revenue_fen"]),
        cost_fen=int(totals["cost_fen"]),
        net_fen=int(totals["net_fen"]),
        roi_bp=None if totals.get("roi_bp") is None else int(totals["roi_bp"]),
        horizon_months=horizon,
    )
    offers = {
        str(o["offer_code"]): OfferPrice(
            net_incentive_cost_fen=int(o["net_incentive_cost_fen"]),
            incremental_monthly_revenue_fen=int(o["incremental_monthly_revenue_fen"]),
            channel_cost_fen_per_month=int(o["channel_cost_fen_per_month"]),
        )
        for o in projection.get("offers") or ()
    }
    contact: dict[tuple[str, str], int] = {}
    for line in projection.get("lines") or ():
        contacts = int(line.get("contacts") or 0)
        if contacts:
            # The line's total contact cost over its contacts: the price per contact it used.
            per = round(int(line["contact_cost_fen"]) / contacts)
            contact[(str(line["offer_code"]), str(line["channel"]))] = per
    return plan, Pricing(horizon_months=horizon, offers=offers, contact_cost_fen=contact)


def with_line_costs(pricing: Pricing, lines: Sequence[Mapping[str, Any]]) -> Pricing:
    """Prefer the case's own per-contact cost of each line over the one derived from totals."""
    stated = {
        (str(line["offer_code"]), str(line["channel"])): int(line["contact_cost_fen"])
        for line in lines
        if line.get("contact_cost_fen") is not None
    }
    return replace(pricing, contact_cost_fen={**pricing.contact_cost_fen, **stated})


# -- closing the loop --------------------------------------------------------------------------


def overdue(completed_at: datetime, now: datetime, *, days: int) -> bool:
    """Is a case completed at ``completed_at`` overdue for evaluation at ``now``?"""
    return now - completed_at > timedelta(days=days)
