"""Example segments the demo saves, so a new console shows real targeting work.

Each is a rule a provincial planner writes in the first week: contract renewal,
5G upgrade, churn rescue without over-contacting. They run on any province the
generator builds (and on a real warehouse with the same contract).
"""

from __future__ import annotations

from typing import Any

EXAMPLES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "合约到期高价值后付费用户",
        (
            "合约 90 天内到期、近 3 个月 ARPU 不低于 80 元、网龄满 1 年的在网后付费用户："
            "续约挽留对象。"
        ),
        {
            "version": 1,
            "root": {
                "all": [
                    {"kind": "field", "field": "status", "op": "=", "value": "active"},
                    {"kind": "field", "field": "payment_type", "op": "=", "value": "postpaid"},
                    {"kind": "contract_ends_within_days", "days": 90},
                    {
                        "kind": "usage",
                        "measure": "arpu_fen",
                        "agg": "avg",
                        "months": 3,
                        "op": ">=",
                        "value": 8000,
                    },
                    {"kind": "tenure_months", "op": ">=", "value": 12},
                ]
            },
        },
    ),
    (
        "流量上升的 4G 套餐用户",
        "持有 4G 套餐、近 6 个月流量逐月上升、近 3 个月月均流量不低于 3 GB：5G 升级候选。",
        {
            "version": 1,
            "root": {
                "all": [
                    {"kind": "field", "field": "status", "op": "=", "value": "active"},
                    {"kind": "has_product", "family": "4g_plan"},
                    {"kind": "trend", "measure": "data_mb", "months": 6, "op": ">", "value": 0},
                    {
                        "kind": "usage",
                        "measure": "data_mb",
                        "agg": "avg",
                        "months": 3,
                        "op": ">=",
                        "value": 3072,
                    },
                ]
            },
        },
    ),
    (
        "高流失风险且近 30 天未接触",
        "流失风险等级为高、近 30 天未被任何渠道接触过的在网用户：关怀挽留，避免过度打扰。",
        {
            "version": 1,
            "root": {
                "all": [
                    {"kind": "field", "field": "status", "op": "=", "value": "active"},
                    {"kind": "churn", "field": "risk_band", "op": "=", "value": "high"},
                    {"not": {"kind": "contacted", "days": 30}},
                ]
            },
        },
    ),
)
