"""A small warehouse for customer 360: the tiny province plus every table the 360 view reads.

Subscriber 1 (南京, outlet C1D1O1) has everything: a household with a bundle,
an enterprise account served by a Nanjing key-account centre, products held
and ended, recharges, orders, complaints, two value rows and a churn score.
Subscriber 8 lives in 苏州 (C2), outside a Nanjing user's scope.

``customer_value`` and ``churn_scores`` are built by the analysis commands in
production; here they are written by hand with the columns those commands write.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from tests._factories.warehouse import (
    FactoryWarehouse,
    contract_table,
    tiny_tables,
    write_warehouse,
)

NJ_SUBSCRIBER = 1
SZ_SUBSCRIBER = 8


def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


PRODUCTS: list[dict[str, Any]] = [
    {"product_id": "BUN199", "name": "全家享199融合套餐", "kind": "bundle", "family": "converged",
     "payment_type": "postpaid", "monthly_fee_fen": 19_900, "data_mb": 61_440, "voice_min": 1000,
     "is_5g": True, "launch_date": date(2021, 1, 1)},
    {"product_id": "DP10", "name": "10GB流量包", "kind": "addon", "family": "data_pack",
     "payment_type": "any", "monthly_fee_fen": 3_000, "data_mb": 10_240, "voice_min": 0,
     "is_5g": False, "launch_date": date(2020, 1, 1)},
]  # fmt: skip

VALUE_SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.int64()),
        ("as_of_month", pa.date32()),
        ("recency_months", pa.int64()),
        ("frequency", pa.int64()),
        ("monetary_fen", pa.int64()),
        ("r_score", pa.int64()),
        ("f_score", pa.int64()),
        ("m_score", pa.int64()),
        ("rfm_score", pa.int64()),
        ("value_tier", pa.string()),
        ("decayed_value_fen", pa.int64()),
        ("clv_fen", pa.int64()),
        ("clv_model", pa.string()),
    ]
)
CHURN_SCHEMA = pa.schema(
    [
        ("subscriber_id", pa.int64()),
        ("model_version", pa.int64()),
        ("feature_month", pa.date32()),
        ("churn_probability", pa.float64()),
        ("risk_decile", pa.int64()),
        ("risk_band", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)

VALUE_ROWS: list[dict[str, Any]] = [
    {"subscriber_id": 1, "as_of_month": date(2024, 2, 1), "recency_months": 1, "frequency": 5,
     "monetary_fen": 9_000, "r_score": 3, "f_score": 3, "m_score": 3, "rfm_score": 9,
     "value_tier": "star", "decayed_value_fen": 8_000, "clv_fen": 100_000, "clv_model": "sbg"},
    {"subscriber_id": 1, "as_of_month": date(2024, 3, 1), "recency_months": 0, "frequency": 6,
     "monetary_fen": 15_000, "r_score": 5, "f_score": 4, "m_score": 4, "rfm_score": 13,
     "value_tier": "gold", "decayed_value_fen": 14_321, "clv_fen": 187_654, "clv_model": "sbg"},
    {"subscriber_id": 2, "as_of_month": date(2024, 3, 1), "recency_months": 0, "frequency": 2,
     "monetary_fen": 3_000, "r_score": 5, "f_score": 1, "m_score": 1, "rfm_score": 7,
     "value_tier": "non_member", "decayed_value_fen": 2_900, "clv_fen": None, "clv_model": None},
    {"subscriber_id": 8, "as_of_month": date(2024, 3, 1), "recency_months": 0, "frequency": 6,
     "monetary_fen": 36_500, "r_score": 5, "f_score": 5, "m_score": 5, "rfm_score": 15,
     "value_tier": "vip", "decayed_value_fen": 36_000, "clv_fen": 900_000, "clv_model": "sbg"},
]  # fmt: skip
CHURN_ROWS: list[dict[str, Any]] = [
    {"subscriber_id": 1, "model_version": 1, "feature_month": date(2024, 2, 1),
     "churn_probability": 0.05, "risk_decile": 3, "risk_band": "low",
     "scored_at": datetime(2024, 3, 5, 1, tzinfo=UTC)},
    {"subscriber_id": 1, "model_version": 2, "feature_month": date(2024, 3, 1),
     "churn_probability": 0.4137, "risk_decile": 10, "risk_band": "high",
     "scored_at": datetime(2024, 4, 5, 1, tzinfo=UTC)},
]  # fmt: skip


def customer_tables(*, analytics: bool = True) -> dict[str, pa.Table]:
    """The tiny tables, extended; ``analytics=False`` leaves out the value and churn tables."""
    tables = tiny_tables()
    units = tables["org_units"].to_pylist() + [
        {"org_id": "C1K1", "parent_id": "C1", "kind": "key_account_centre",
         "name": "南京政企中心", "name_en": "Nanjing key accounts"},
    ]  # fmt: skip
    tables["org_units"] = contract_table("org_units", units)
    tables["products"] = contract_table("products", tables["products"].to_pylist() + PRODUCTS)
    subscribers = tables["subscribers"].to_pylist()
    for row in subscribers:
        if row["subscriber_id"] == 1:
            row.update(
                household_id="H1", account_id="E1", contract_end=date(2025, 1, 31),
                handset_date=date(2022, 12, 20), handset_brand="苹果", birth_year=1988,
            )  # fmt: skip
        if row["subscriber_id"] == 2:
            row.update(household_id="H1")
    tables["subscribers"] = contract_table("subscribers", subscribers)
    tables["households"] = contract_table(
        "households",
        [{"household_id": "H1", "grid_id": "C1D1G1", "bundle_id": "BUN199",
          "has_broadband": True, "has_iptv": True, "broadband_mbps": 500,
          "created_date": date(2023, 5, 10)}],
    )  # fmt: skip
    tables["staff"] = contract_table(
        "staff",
        [{"staff_id": "S100", "name": "王经理", "org_id": "C1K1", "level": 2, "grade": 5,
          "position": "account_manager", "hired_date": date(2015, 7, 1)}],
    )  # fmt: skip
    tables["enterprise_accounts"] = contract_table(
        "enterprise_accounts",
        [{"account_id": "E1", "name": "南京某某科技有限公司", "industry": "it_services",
          "tier": "B", "org_id": "C1K1", "account_manager_id": "S100",
          "created_date": date(2020, 3, 1)}],
    )  # fmt: skip
    tables["subscriptions"] = contract_table(
        "subscriptions",
        [
            {"subscription_id": 1, "subscriber_id": 1, "product_id": "PL5G128",
             "start_date": date(2023, 5, 10), "end_date": None, "channel": "hall"},
            {"subscription_id": 2, "subscriber_id": 1, "product_id": "DP10",
             "start_date": date(2023, 6, 1), "end_date": date(2024, 1, 31), "channel": "app"},
            {"subscription_id": 3, "subscriber_id": 1, "product_id": "DP10",
             "start_date": date(2024, 2, 1), "end_date": None, "channel": "wechat"},
            {"subscription_id": 4, "subscriber_id": 8, "product_id": "PL5G128",
             "start_date": date(2023, 1, 1), "end_date": None, "channel": "hall"},
        ],
    )  # fmt: skip
    tables["recharges"] = contract_table(
        "recharges",
        [
            {"recharge_id": 1, "subscriber_id": 1, "recharged_at": _at(date(2024, 1, 3)),
             "amount_fen": 5_000, "channel": "app"},
            {"recharge_id": 2, "subscriber_id": 1, "recharged_at": _at(date(2024, 3, 2)),
             "amount_fen": 10_000, "channel": "wechat"},
            {"recharge_id": 3, "subscriber_id": 3, "recharged_at": _at(date(2024, 1, 9)),
             "amount_fen": 3_000, "channel": "hall"},
        ],
    )  # fmt: skip
    tables["orders"] = contract_table(
        "orders",
        [
            {"order_id": 1, "subscriber_id": 1, "product_id": "PL5G128", "action": "new",
             "ordered_at": _at(date(2023, 5, 10)), "channel": "hall", "org_id": "C1D1O1",
             "amount_fen": 0},
            {"order_id": 2, "subscriber_id": 1, "product_id": "DP10", "action": "add",
             "ordered_at": _at(date(2024, 2, 1)), "channel": "wechat", "org_id": "C1D1O1",
             "amount_fen": 3_000},
            {"order_id": 3, "subscriber_id": 8, "product_id": "PL5G128", "action": "new",
             "ordered_at": _at(date(2023, 1, 1)), "channel": "hall", "org_id": "C2D1O1",
             "amount_fen": 0},
        ],
    )  # fmt: skip
    tables["complaints"] = contract_table(
        "complaints",
        [
            {"complaint_id": 1, "subscriber_id": 1, "created_at": _at(date(2024, 1, 15)),
             "category": "network", "severity": 2, "resolved_at": _at(date(2024, 1, 17)),
             "org_id": "C1D1O1"},
            {"complaint_id": 2, "subscriber_id": 1, "created_at": _at(date(2024, 3, 20)),
             "category": "billing", "severity": 1, "resolved_at": None, "org_id": "C1D1O1"},
        ],
    )  # fmt: skip
    if analytics:
        tables["customer_value"] = pa.Table.from_pylist(VALUE_ROWS, schema=VALUE_SCHEMA)
        tables["churn_scores"] = pa.Table.from_pylist(CHURN_ROWS, schema=CHURN_SCHEMA)
    return tables


def build_customer_warehouse(directory: Path, *, analytics: bool = True) -> FactoryWarehouse:
    """The customer-360 warehouse as a DuckDB file under ``directory``."""
    return write_warehouse(directory / "warehouse.duckdb", customer_tables(analytics=analytics))
