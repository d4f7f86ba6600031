"""Templates for common cases: the plan a planner starts from, to be edited.

A template fills the objective, hypothesis, channel mix with expected reach and
take-up, schedule length, horizon, control share, priority, KPIs and
checkpoints; the planner chooses the segment snapshot and the offers. The
take-up figures are starting estimates for the planner to replace with their
own (the projection is recomputed on every edit), not measured results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from telmark.cases.domain import Metric, Objective
from telmark.consent.domain import Channel
from telmark.translation import N_

# Planning defaults of what one contact costs (fen), per channel; a plan line may set its own.
CONTACT_COST_FEN: Mapping[Channel, int] = {
    Channel.SMS: 5,
    Channel.EMAIL: 1,
    Channel.APP_PUSH: 1,
    Channel.OUTBOUND_CALL: 200,
    Channel.FRONTLINE: 800,
}


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    channel: Channel
    reach_bp: int
    take_up_bp: int


@dataclass(frozen=True, slots=True)
class KpiPlan:
    metric: Metric
    target_bp_of_projection: int  # the KPI target as a share of the projected figure


@dataclass(frozen=True, slots=True)
class CheckpointPlan:
    day: int  # days after the start
    metric: Metric
    target_bp_of_projection: int


@dataclass(frozen=True, slots=True)
class Template:
    key: str
    name: str
    description: str
    objective: Objective
    hypothesis: str
    channels: tuple[ChannelPlan, ...]
    duration_days: int
    horizon_months: int
    holdout_bp: int
    priority: int
    business_weight_bp: int
    kpis: tuple[KpiPlan, ...]
    checkpoints: tuple[CheckpointPlan, ...]


_TAKE = (KpiPlan(Metric.TAKERS, 10_000), KpiPlan(Metric.INCREMENTAL_REVENUE_FEN, 10_000))
_MID = (
    CheckpointPlan(14, Metric.CONTACTS, 8_000),
    CheckpointPlan(30, Metric.TAKERS, 5_000),
)

TEMPLATES: tuple[Template, ...] = (
    Template(
        key="contract_renewal",
        name=N_("Contract renewal"),
        description=N_("Renew contracts ending within three months before the customer shops."),
        objective=Objective.RETAIN,
        hypothesis=N_(
            "A renewal offer made before the contract ends keeps customers who would "
            "otherwise port out."
        ),
        channels=(
            ChannelPlan(Channel.OUTBOUND_CALL, 6_000, 1_500),
            ChannelPlan(Channel.SMS, 4_000, 300),
        ),
        duration_days=60,
        horizon_months=12,
        holdout_bp=500,
        priority=7,
        business_weight_bp=7_000,
        kpis=(KpiPlan(Metric.RETAINED_SUBSCRIBERS, 10_000), KpiPlan(Metric.TAKERS, 10_000)),
        checkpoints=_MID,
    ),
    Template(
        key="upgrade_5g",
        name=N_("4G to 5G upgrade"),
        description=N_("Move 4G lines with 5G handsets to a 5G plan."),
        objective=Objective.UPSELL,
        hypothesis=N_("Lines already on a 5G handset take a 5G plan when offered extra data."),
        channels=(
            ChannelPlan(Channel.SMS, 5_000, 200),
            ChannelPlan(Channel.APP_PUSH, 3_000, 300),
            ChannelPlan(Channel.FRONTLINE, 2_000, 1_200),
        ),
        duration_days=45,
        horizon_months=12,
        holdout_bp=1_000,
        priority=5,
        business_weight_bp=5_000,
        kpis=_TAKE,
        checkpoints=_MID,
    ),
    Template(
        key="broadband_cross_sell",
        name=N_("Broadband cross-sell to mobile households"),
        description=N_("Offer converged broadband to households with mobile lines only."),
        objective=Objective.CROSS_SELL,
        hypothesis=N_("Mobile-only households take broadband in a converged bundle."),
        channels=(
            ChannelPlan(Channel.OUTBOUND_CALL, 5_000, 800),
            ChannelPlan(Channel.FRONTLINE, 5_000, 1_500),
        ),
        duration_days=60,
        horizon_months=24,
        holdout_bp=1_000,
        priority=6,
        business_weight_bp=6_000,
        kpis=_TAKE,
        checkpoints=_MID,
    ),
    Template(
        key="win_back_port_out",
        name=N_("Win-back of port-out risks"),
        description=N_("Retain lines scored at high risk of porting out."),
        objective=Objective.WIN_BACK,
        hypothesis=N_("A retention offer to high-risk lines avoids part of their churn."),
        channels=(
            ChannelPlan(Channel.OUTBOUND_CALL, 7_000, 1_200),
            ChannelPlan(Channel.SMS, 3_000, 200),
        ),
        duration_days=30,
        horizon_months=12,
        holdout_bp=1_000,
        priority=8,
        business_weight_bp=8_000,
        kpis=(KpiPlan(Metric.RETAINED_SUBSCRIBERS, 10_000), KpiPlan(Metric.ROI_BP, 10_000)),
        checkpoints=(
            CheckpointPlan(7, Metric.CONTACTS, 6_000),
            CheckpointPlan(21, Metric.TAKERS, 7_000),
        ),
    ),
    Template(
        key="member_day",
        name=N_("Member-day promotion"),
        description=N_("A monthly member day with a gift or lottery to keep lines active."),
        objective=Objective.ACTIVATE,
        hypothesis=N_("A member-day gift raises activity among low-usage lines."),
        channels=(
            ChannelPlan(Channel.APP_PUSH, 6_000, 500),
            ChannelPlan(Channel.SMS, 4_000, 200),
        ),
        duration_days=7,
        horizon_months=3,
        holdout_bp=500,
        priority=3,
        business_weight_bp=3_000,
        kpis=(KpiPlan(Metric.TAKERS, 10_000),),
        checkpoints=(CheckpointPlan(3, Metric.CONTACTS, 9_000),),
    ),
)
BY_KEY: Mapping[str, Template] = {t.key: t for t in TEMPLATES}
