"""Offer documents, catalog products and tiny warehouses for the offer tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import Session

from telmark.catalog.domain import PaymentType, ProductKind, ProductStatus, VersionSource
from telmark.catalog.models import Product, ProductVersion

PRODUCTS = ("PL5G079", "PL5G099", "BB300", "TV015", "BD169", "XPACK10")
# Products that are not plans; the default offer cross-sells the add-on, which no generated
# line holds and which moves no plan, so any active line may take it.
KINDS = {"XPACK10": ProductKind.ADDON}
TODAY = date(2026, 11, 26)


def add_products(session: Session, codes: Iterable[str] = PRODUCTS) -> None:
    """Catalog products (on sale) for the given codes, if missing; flushed, not committed."""
    for code in codes:
        if session.scalar(select(Product.id).where(Product.code == code)) is not None:
            continue
        product = Product(
            code=code,
            name=f"产品{code}",
            kind=KINDS.get(code, ProductKind.PLAN),
            family="data_pack" if code in KINDS else "5g_plan",
            payment_type=PaymentType.ANY,
            status=ProductStatus.ON_SALE,
            created_by="test",
        )
        session.add(product)
        session.flush()
        session.add(
            ProductVersion(
                product_id=product.id,
                version=1,
                valid_from=date(2020, 1, 1),
                source=VersionSource.ENTERED,
                monthly_fee_fen=7_900,
                data_mb=40 * 1024,
                voice_min=300,
                is_5g=True,
                created_by="test",
            )
        )
    session.flush()


def offer_doc(code: str, *tools: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A valid offer document with the given tools (default: a gift of 10)."""
    doc: dict[str, Any] = {
        "code": code,
        "name": f"测试活动{code}",
        "action": "cross_sell",
        "product_codes": ["XPACK10"],
        "valid_from": (TODAY - timedelta(days=30)).isoformat(),
        "valid_to": (TODAY + timedelta(days=3650)).isoformat(),
        "tools": list(tools) or [gift(10)],
        "economics": {"incremental_monthly_revenue_fen": 2_000, "channel_cost_share_bp": 1_000},
    }
    doc.update(overrides)
    return doc


def gift(stock: int, unit_cost_fen: int = 2_000) -> dict[str, Any]:
    return {"tool": "gift", "item": "蓝牙耳机", "unit_cost_fen": unit_cost_fen, "stock": stock}


def red_packet(amount_fen: int, budget_fen: int) -> dict[str, Any]:
    return {
        "tool": "red_packet",
        "amount_fen": amount_fen,
        "validity_days": 30,
        "total_budget_fen": budget_fen,
    }


def lottery(*prizes: tuple[str, int, int, int], budget_fen: int) -> dict[str, Any]:
    """A lottery of (code, odds_ppm, unit_cost_fen, stock) prizes."""
    return {
        "tool": "lottery",
        "budget_fen": budget_fen,
        "prizes": [
            {"code": c, "name": f"奖品{c}", "odds_ppm": o, "unit_cost_fen": u, "stock": s}
            for c, o, u, s in prizes
        ],
    }


def subscriber_table(rows: Iterable[tuple[int, str]]) -> pa.Table:
    """``subscribers`` rows for (subscriber_id, org_id) pairs, as the eligibility rules read them.

    Every line is active, postpaid, on plan PL5G079 and out of contract, so the
    default offer (a cross-sold add-on) is one each may take.
    """
    pairs = list(rows)
    n = len(pairs)
    return pa.table(
        {
            "subscriber_id": pa.array([p[0] for p in pairs], pa.int64()),
            "org_id": pa.array([p[1] for p in pairs], pa.string()),
            "msisdn": pa.array([f"1390000{p[0]:04d}" for p in pairs], pa.string()),
            "status": pa.array(["active"] * n, pa.string()),
            "payment_type": pa.array(["postpaid"] * n, pa.string()),
            "plan_id": pa.array(["PL5G079"] * n, pa.string()),
            "contract_end": pa.array([None] * n, pa.date32()),
            "join_date": pa.array([date(2020, 1, 1)] * n, pa.date32()),
        }
    )


def subscribers_warehouse(rows: Iterable[tuple[int, str]]) -> BaseBackend:
    """An in-memory DuckDB with a ``subscribers`` table (see ``subscriber_table``)."""
    con = ibis.duckdb.connect()
    con.create_table("subscribers", subscriber_table(rows))
    return con
