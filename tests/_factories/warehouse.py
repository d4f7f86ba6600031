"""Small, hand-made warehouses shaped exactly like the data contract.

``build_tiny_warehouse`` writes a dozen subscribers whose KPIs are worked out
by hand in ``tests/unit/test_overview.py``: joins mid-month, exits on a
month's last day, a port-out before the report window, a suspended line that
stays in the base, a line homed under no city. ``build_sample_province`` writes
a seeded, province-shaped warehouse (13 cities, thousands of lines) so charts
look like a real province in browser tests and screenshots.

Column names and types come from ``telmark.warehouse.contract``: a column the
contract does not define, or one it requires but a row lacks, fails here.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from telmark.warehouse.connection import connect
from telmark.warehouse.contract import CONTRACT, ColType, TableSpec
from telmark.warehouse.derived import refresh_org_closure

_ARROW_TYPES: dict[ColType, pa.DataType] = {
    ColType.STRING: pa.string(),
    ColType.INT: pa.int64(),
    ColType.FLOAT: pa.float64(),
    ColType.BOOL: pa.bool_(),
    ColType.DATE: pa.date32(),
    ColType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
}

Row = Mapping[str, Any]


@dataclass(frozen=True)
class FactoryWarehouse:
    """A DuckDB warehouse file written by this module, with the rows it holds."""

    path: Path
    tables: dict[str, pa.Table]

    @property
    def url(self) -> str:
        return f"duckdb://{self.path}"


def arrow_schema(spec: TableSpec) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, _ARROW_TYPES[c.type], nullable=not c.required) for c in spec.columns]
    )


def contract_table(name: str, rows: Sequence[Row]) -> pa.Table:
    """Rows (dicts) as an Arrow table with the contract's columns, in contract order."""
    spec = CONTRACT[name]
    for row in rows:
        unknown = set(row) - set(spec.column_names)
        if unknown:
            raise KeyError(f"{name}: columns not in the contract: {sorted(unknown)}")
        missing = [c.name for c in spec.columns if c.required and row.get(c.name) is None]
        if missing:
            raise KeyError(f"{name}: required columns missing in {dict(row)}: {missing}")
    columns = {c.name: [row.get(c.name) for row in rows] for c in spec.columns}
    return pa.table(columns, schema=arrow_schema(spec))


def write_warehouse(path: Path, tables: Mapping[str, pa.Table]) -> FactoryWarehouse:
    """Create a DuckDB file holding ``tables`` and the derived ``org_closure``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(f"duckdb://{path}")
    try:
        for name, table in tables.items():
            con.create_table(name, ibis.memtable(table))
        if "org_units" in tables:
            refresh_org_closure(con)
    finally:
        con.disconnect()
    return FactoryWarehouse(path=path, tables=dict(tables))


def build_empty_warehouse(directory: Path) -> FactoryWarehouse:
    """A warehouse file that exists but holds no tables (a fresh install)."""
    return write_warehouse(directory / "warehouse.duckdb", {})


# --- the tiny warehouse --------------------------------------------------------------

TINY_MONTHS = (date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1))

_ORG_UNITS: list[Row] = [
    {"org_id": "P", "parent_id": None, "kind": "province", "name": "江苏省", "name_en": "Jiangsu"},
    {"org_id": "C1", "parent_id": "P", "kind": "city", "name": "南京", "name_en": "Nanjing"},
    {"org_id": "C1D1", "parent_id": "C1", "kind": "district", "name": "玄武区"},
    {"org_id": "C1D1O1", "parent_id": "C1D1", "kind": "outlet", "name": "玄武营业厅"},
    {"org_id": "C1D1G1", "parent_id": "C1D1", "kind": "grid", "name": "玄武一网格"},
    {"org_id": "C2", "parent_id": "P", "kind": "city", "name": "苏州", "name_en": "Suzhou"},
    {"org_id": "C2D1", "parent_id": "C2", "kind": "district", "name": "姑苏区"},
    {"org_id": "C2D1O1", "parent_id": "C2D1", "kind": "outlet", "name": "姑苏营业厅"},
    {"org_id": "C2D1G1", "parent_id": "C2D1", "kind": "grid", "name": "姑苏一网格"},
    {"org_id": "KAC", "parent_id": "P", "kind": "key_account_centre", "name": "省政企中心"},
]

_PLAN: Row = {
    "product_id": "PL5G128",
    "name": "5G畅享128元套餐",
    "kind": "plan",
    "family": "5g_plan",
    "payment_type": "any",
    "monthly_fee_fen": 12_800,
    "data_mb": 30_720,
    "voice_min": 500,
    "is_5g": True,
    "launch_date": date(2020, 1, 1),
}

# (subscriber_id, home outlet, join date, status, status date, port-out date)
_TINY_SUBSCRIBERS: list[tuple[int, str, date, str, date, date | None]] = [
    (1, "C1D1O1", date(2023, 5, 10), "active", date(2023, 5, 10), None),
    (2, "C1D1O1", date(2024, 1, 20), "active", date(2024, 1, 20), None),
    (3, "C1D1O1", date(2023, 11, 1), "ported_out", date(2024, 2, 14), date(2024, 2, 14)),
    (4, "C1D1O1", date(2022, 3, 3), "terminated", date(2024, 1, 31), None),
    (5, "C1D1G1", date(2023, 12, 15), "suspended", date(2024, 3, 2), None),
    (6, "C1D1O1", date(2024, 4, 2), "active", date(2024, 4, 2), None),
    (7, "C1D1O1", date(2023, 6, 1), "ported_out", date(2024, 1, 5), date(2024, 1, 5)),
    (8, "C2D1O1", date(2023, 1, 1), "active", date(2023, 1, 1), None),
    (9, "C2D1O1", date(2023, 8, 8), "ported_out", date(2024, 3, 31), date(2024, 3, 31)),
    (10, "C2D1O1", date(2024, 2, 29), "active", date(2024, 2, 29), None),
    (11, "C2D1O1", date(2023, 2, 2), "ported_out", date(2023, 12, 20), date(2023, 12, 20)),
    (12, "KAC", date(2023, 3, 3), "active", date(2023, 3, 3), None),
]

_JAN, _FEB, _MAR = TINY_MONTHS
# (subscriber_id, month, arpu_fen)
_TINY_USAGE: list[tuple[int, date, int]] = [
    (1, _JAN, 5000), (1, _FEB, 5200), (1, _MAR, 4800),
    (2, _JAN, 1500), (2, _FEB, 3000), (2, _MAR, 3001),
    (3, _JAN, 8000), (3, _FEB, 4000),
    (4, _JAN, 2000),
    (5, _JAN, 3900), (5, _FEB, 4100), (5, _MAR, 0),
    (7, _JAN, 700),
    (8, _JAN, 12000), (8, _FEB, 12000), (8, _MAR, 12500),
    (9, _JAN, 6001), (9, _FEB, 6000), (9, _MAR, 6000),
    (10, _FEB, 100), (10, _MAR, 5000),
    (12, _JAN, 9999), (12, _FEB, 9999), (12, _MAR, 9999),
]  # fmt: skip


def _grid_of(org_id: str) -> str:
    return org_id[:-2] + "G1" if org_id.endswith("O1") else org_id


def _subscriber_row(
    subscriber_id: int,
    org_id: str,
    join_date: date,
    status: str,
    status_date: date,
    port_out_date: date | None,
    *,
    plan_id: str = "PL5G128",
) -> Row:
    return {
        "subscriber_id": subscriber_id,
        "msisdn": f"139{subscriber_id:08d}",
        "customer_name": f"用户{subscriber_id}",
        "id_number": f"32010219900101{subscriber_id % 10_000:04d}",
        "gender": "F" if subscriber_id % 2 else "M",
        "birth_year": 1960 + subscriber_id % 45,
        "payment_type": "postpaid" if subscriber_id % 3 else "prepaid",
        "plan_id": plan_id,
        "join_date": join_date,
        "contract_end": None,
        "handset_brand": "华为",
        "handset_5g": True,
        "handset_date": join_date,
        "household_id": None,
        "account_id": None,
        "org_id": org_id,
        "grid_id": _grid_of(org_id),
        "status": status,
        "status_date": status_date,
        "port_out_date": port_out_date,
    }


def _usage_row(subscriber_id: int, month: date, arpu: int) -> Row:
    return {
        "subscriber_id": subscriber_id,
        "month": month,
        "arpu_fen": arpu,
        "data_mb": 10_000,
        "voice_min": 300,
        "sms_count": 10,
        "roaming_fen": 0,
        "overage_fen": 0,
        "dropped_calls": 1,
    }


def tiny_tables() -> dict[str, pa.Table]:
    return {
        "org_units": contract_table("org_units", _ORG_UNITS),
        "products": contract_table("products", [_PLAN]),
        "subscribers": contract_table(
            "subscribers", [_subscriber_row(*s) for s in _TINY_SUBSCRIBERS]
        ),
        "usage_monthly": contract_table("usage_monthly", [_usage_row(*u) for u in _TINY_USAGE]),
    }


def build_tiny_warehouse(directory: Path) -> FactoryWarehouse:
    """The hand-made warehouse (2 cities + a key-account centre, 12 lines, Jan–Mar 2024)."""
    return write_warehouse(directory / "warehouse.duckdb", tiny_tables())


# --- a seeded, province-shaped warehouse ---------------------------------------------

SAMPLE_CITIES: tuple[tuple[str, str], ...] = (
    ("南京", "Nanjing"), ("苏州", "Suzhou"), ("无锡", "Wuxi"), ("常州", "Changzhou"),
    ("徐州", "Xuzhou"), ("南通", "Nantong"), ("扬州", "Yangzhou"), ("盐城", "Yancheng"),
    ("泰州", "Taizhou"), ("镇江", "Zhenjiang"), ("淮安", "Huai'an"), ("连云港", "Lianyungang"),
    ("宿迁", "Suqian"),
)  # fmt: skip


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    return date(day.year + year, month + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def sample_tables(
    *, subscribers: int = 6_000, months: int = 12, seed: int = 7, first_month: date | None = None
) -> dict[str, pa.Table]:
    """Tables of a seeded province: city sizes, join dates, churn and ARPU vary by city."""
    rng = np.random.default_rng(seed)
    first = first_month or date(2024, 1, 1)
    report = [_add_months(first, i) for i in range(months)]
    last_end = _month_end(report[-1])
    units: list[Row] = [dict(_ORG_UNITS[0])]
    for i, (name, name_en) in enumerate(SAMPLE_CITIES, start=1):
        city = f"C{i:02d}"
        units += [
            {"org_id": city, "parent_id": "P", "kind": "city", "name": name, "name_en": name_en},
            {"org_id": f"{city}D1", "parent_id": city, "kind": "district", "name": f"{name}市区"},
            {"org_id": f"{city}D1O1", "parent_id": f"{city}D1", "kind": "outlet",
             "name": f"{name}中心营业厅"},
            {"org_id": f"{city}D1G1", "parent_id": f"{city}D1", "kind": "grid",
             "name": f"{name}一网格"},
        ]  # fmt: skip
    weights = 1.0 / np.arange(1, len(SAMPLE_CITIES) + 1) ** 0.7
    city_of = rng.choice(len(SAMPLE_CITIES), size=subscribers, p=weights / weights.sum())
    city_arpu = rng.uniform(38.0, 62.0, size=len(SAMPLE_CITIES)) * 100
    city_churn = rng.uniform(0.006, 0.022, size=len(SAMPLE_CITIES))
    span = (last_end - date(2014, 1, 1)).days
    # Most lines predate the window; about a tenth join during it.
    joined = rng.integers(0, span, size=subscribers)
    subs: list[Row] = []
    usage: list[Row] = []
    for sid in range(1, subscribers + 1):
        c = int(city_of[sid - 1])
        join = date.fromordinal(date(2014, 1, 1).toordinal() + int(joined[sid - 1]))
        status, status_date, port_out = "active", join, None
        for month in report:
            if month < join.replace(day=1):
                continue
            hazard = city_churn[c] * (1.6 if month.month in (2, 7) else 1.0)
            if rng.random() < hazard:
                day = int(rng.integers(1, _month_end(month).day + 1))
                exit_day = month.replace(day=day)
                if exit_day >= join:
                    ported = rng.random() < 0.7
                    status = "ported_out" if ported else "terminated"
                    status_date, port_out = exit_day, exit_day if ported else None
            seasonal = 1.0 + 0.06 * np.sin((month.month - 3) / 12 * 2 * np.pi)
            trend = 1.0 + 0.004 * report.index(month)
            arpu = max(0, int(rng.lognormal(np.log(city_arpu[c] * seasonal * trend), 0.45)))
            usage.append(_usage_row(sid, month, arpu))
            if status != "active":
                break
        subs.append(_subscriber_row(sid, f"C{c + 1:02d}D1O1", join, status, status_date, port_out))
    return {
        "org_units": contract_table("org_units", units),
        "products": contract_table("products", [_PLAN]),
        "subscribers": contract_table("subscribers", subs),
        "usage_monthly": contract_table("usage_monthly", usage),
    }


def build_sample_province(
    directory: Path, *, subscribers: int = 6_000, months: int = 12, seed: int = 7
) -> FactoryWarehouse:
    """A seeded 13-city province (same seed, same data) for browser tests and screenshots."""
    tables = sample_tables(subscribers=subscribers, months=months, seed=seed)
    return write_warehouse(directory / "warehouse.duckdb", tables)
