"""A warehouse holding the generator's product catalog and a few orders (catalog tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from telmark.warehouse.generator.catalog import PRODUCTS
from tests._factories.warehouse import FactoryWarehouse, contract_table, write_warehouse

FIRST_DAY = date(2024, 1, 1)  # the window's first day the launch dates are placed before


def product_rows() -> list[dict[str, object]]:
    """The generator's products as warehouse ``products`` rows."""
    return [
        {
            "product_id": p.product_id,
            "name": p.name,
            "kind": p.kind,
            "family": p.family,
            "payment_type": p.payment_type,
            "monthly_fee_fen": p.fee_yuan * 100,
            "data_mb": round(p.data_gb * 1024),
            "voice_min": p.voice_min,
            "is_5g": p.is_5g,
            "launch_date": FIRST_DAY - timedelta(days=round(p.launched_years_ago * 365.25)),
            "retire_date": None
            if p.retired_days_ago is None
            else FIRST_DAY - timedelta(days=p.retired_days_ago),
        }
        for p in PRODUCTS
    ]


def order_row(order_id: int, product_id: str, ordered_at: datetime) -> dict[str, object]:
    return {
        "order_id": order_id,
        "subscriber_id": 1,
        "product_id": product_id,
        "action": "new",
        "ordered_at": ordered_at.astimezone(UTC),
        "channel": "hall",
        "org_id": "C01D1O1",
        "amount_fen": 0,
    }


def catalog_warehouse(
    directory: Path, orders: list[dict[str, object]] | None = None, *, products: bool = True
) -> FactoryWarehouse:
    tables = {}
    if products:
        tables["products"] = contract_table("products", product_rows())
    if orders is not None:
        tables["orders"] = contract_table("orders", orders)
    return write_warehouse(directory / "catalog.duckdb", tables)
