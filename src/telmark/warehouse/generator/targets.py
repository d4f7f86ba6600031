"""Realism targets: the ranges a generated province's headline figures fall in.

docs/generator.md lists the same ranges (a test checks it does) and the
generator tests measure every one on a 20,000-subscriber, 6-month province.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    low: float
    high: float
    meaning: str


REALISM_TARGETS: dict[str, Target] = {
    "monthly_port_out_rate": Target(
        0.006, 0.015, "lines ported out in a month ÷ lines with usage that month"
    ),
    "mean_arpu_yuan": Target(40.0, 65.0, "mean arpu_fen / 100 over all usage rows"),
    "prepaid_share": Target(0.20, 0.35, "share of subscribers that are prepaid"),
    "five_g_plan_share": Target(0.35, 0.60, "share of subscribers whose plan is 5G"),
    "five_g_handset_share": Target(0.60, 0.85, "share of subscribers with a 5G handset"),
    "mean_dou_gb": Target(10.0, 20.0, "mean data_mb / 1024 over all usage rows"),
    "mean_mou_min": Target(150.0, 260.0, "mean voice_min over all usage rows"),
    "monthly_complaint_rate": Target(0.003, 0.010, "complaints ÷ usage rows"),
    "plan_share_5g_plan": Target(0.25, 0.45, "share of subscribers on a 5g_plan-family plan"),
    "plan_share_4g_plan": Target(0.30, 0.50, "share on a 4g_plan-family plan"),
    "plan_share_converged": Target(0.03, 0.10, "share on a converged bundle (household primary)"),
    "plan_share_family": Target(0.05, 0.15, "share on a family secondary card"),
    "plan_share_enterprise": Target(0.03, 0.10, "share on an enterprise plan"),
    "sleeping_dog_share": Target(0.05, 0.20, "share of subscribers with negative gift uplift"),
    "mean_base_propensity": Target(0.02, 0.08, "mean base_propensity"),
}
