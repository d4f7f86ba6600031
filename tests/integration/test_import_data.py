"""A tiny, valid province in the contract's columns, written as files for the importer tests.

``SAMPLE`` holds a few rows per contract table (as the text a BOSS export
would have); ``write_csv`` and ``write_province`` put them on disk. The one
test here checks that the sample is itself valid, so the other tests can
change one thing and know that is what the importer objects to.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend

from telmark.warehouse.connection import connect
from telmark.warehouse.contract import CONTRACT
from telmark.warehouse.importer import load_directory

Rows = list[dict[str, str]]

SAMPLE: dict[str, Rows] = {
    "org_units": [
        {
            "org_id": "P",
            "parent_id": "",
            "kind": "province",
            "name": "江南省",
            "name_en": "Jiangnan",
        },
        {"org_id": "C01", "parent_id": "P", "kind": "city", "name": "临安市", "name_en": "Lin'an"},
        {
            "org_id": "C01D01",
            "parent_id": "C01",
            "kind": "district",
            "name": "西湖区",
            "name_en": "",
        },
        {
            "org_id": "C01D01O001",
            "parent_id": "C01D01",
            "kind": "outlet",
            "name": "西湖营业厅",
            "name_en": "",
        },
        {
            "org_id": "C01D01G001",
            "parent_id": "C01D01",
            "kind": "grid",
            "name": "西湖一网格",
            "name_en": "",
        },
        {
            "org_id": "KA01",
            "parent_id": "P",
            "kind": "key_account_centre",
            "name": "政企中心",
            "name_en": "",
        },
    ],
    "staff": [
        {
            "staff_id": "S0001",
            "name": "张伟",
            "org_id": "C01",
            "level": "2",
            "grade": "5",
            "position": "analyst",
            "hired_date": "2019-03-01",
        },
        {
            "staff_id": "S0002",
            "name": "李娜",
            "org_id": "KA01",
            "level": "3",
            "grade": "4",
            "position": "account_manager",
            "hired_date": "2020-07-15",
        },
    ],
    "agents": [
        {
            "agent_id": "A001",
            "name": "西湖通讯店",
            "org_id": "C01D01O001",
            "agent_type": "retail",
            "commission_rate_bp": "300",
            "since_date": "2021-01-01",
        },
    ],
    "products": [
        {
            "product_id": "PL128",
            "name": "5G畅享128元套餐",
            "kind": "plan",
            "family": "5g_plan",
            "payment_type": "postpaid",
            "monthly_fee_fen": "12800",
            "data_mb": "30720",
            "voice_min": "500",
            "is_5g": "true",
            "launch_date": "2022-01-01",
            "retire_date": "",
        },
        {
            "product_id": "BD199",
            "name": "全家享融合套餐",
            "kind": "bundle",
            "family": "converged",
            "payment_type": "any",
            "monthly_fee_fen": "19900",
            "data_mb": "61440",
            "voice_min": "1000",
            "is_5g": "true",
            "launch_date": "2021-06-01",
            "retire_date": "2025-12-31",
        },
    ],
    "households": [
        {
            "household_id": "H001",
            "grid_id": "C01D01G001",
            "bundle_id": "BD199",
            "has_broadband": "true",
            "has_iptv": "false",
            "broadband_mbps": "500",
            "created_date": "2021-06-15",
        },
    ],
    "enterprise_accounts": [
        {
            "account_id": "E001",
            "name": "临安市第一中学",
            "industry": "education",
            "tier": "B",
            "org_id": "KA01",
            "account_manager_id": "S0002",
            "created_date": "2020-09-01",
        },
    ],
    "subscribers": [
        {
            "subscriber_id": "1",
            "msisdn": "13800000001",
            "customer_name": "王芳",
            "id_number": "33010619900101002X",
            "gender": "F",
            "birth_year": "1990",
            "payment_type": "postpaid",
            "plan_id": "PL128",
            "join_date": "2021-06-15",
            "contract_end": "2026-06-30",
            "handset_brand": "华为",
            "handset_5g": "true",
            "handset_date": "2023-02-01",
            "household_id": "H001",
            "account_id": "",
            "org_id": "C01D01O001",
            "grid_id": "C01D01G001",
            "status": "active",
            "status_date": "2021-06-15",
            "port_out_date": "",
        },
        {
            "subscriber_id": "2",
            "msisdn": "13900000002",
            "customer_name": "陈刚",
            "id_number": "330106198505050031",
            "gender": "M",
            "birth_year": "1985",
            "payment_type": "prepaid",
            "plan_id": "PL128",
            "join_date": "2019-01-20",
            "contract_end": "",
            "handset_brand": "小米",
            "handset_5g": "false",
            "handset_date": "2020-05-01",
            "household_id": "",
            "account_id": "E001",
            "org_id": "C01D01O001",
            "grid_id": "C01D01G001",
            "status": "ported_out",
            "status_date": "2024-03-10",
            "port_out_date": "2024-03-10",
        },
    ],
    "subscriptions": [
        {
            "subscription_id": "1",
            "subscriber_id": "1",
            "product_id": "PL128",
            "start_date": "2021-06-15",
            "end_date": "",
            "channel": "hall",
        },
        {
            "subscription_id": "2",
            "subscriber_id": "2",
            "product_id": "PL128",
            "start_date": "2019-01-20",
            "end_date": "2024-03-10",
            "channel": "app",
        },
    ],
    "usage_monthly": [
        {
            "subscriber_id": "1",
            "month": "2024-01-01",
            "arpu_fen": "13250",
            "data_mb": "28000",
            "voice_min": "420",
            "sms_count": "12",
            "roaming_fen": "0",
            "overage_fen": "450",
            "dropped_calls": "1",
        },
        {
            "subscriber_id": "1",
            "month": "2024-02-01",
            "arpu_fen": "12800",
            "data_mb": "25000",
            "voice_min": "380",
            "sms_count": "9",
            "roaming_fen": "1200",
            "overage_fen": "0",
            "dropped_calls": "0",
        },
        {
            "subscriber_id": "2",
            "month": "2024-01-01",
            "arpu_fen": "5000",
            "data_mb": "8000",
            "voice_min": "150",
            "sms_count": "3",
            "roaming_fen": "0",
            "overage_fen": "0",
            "dropped_calls": "3",
        },
    ],
    "recharges": [
        {
            "recharge_id": "1",
            "subscriber_id": "2",
            "recharged_at": "2024-01-05 09:30:00+08:00",
            "amount_fen": "5000",
            "channel": "wechat",
        },
    ],
    "orders": [
        {
            "order_id": "1",
            "subscriber_id": "1",
            "product_id": "PL128",
            "action": "new",
            "ordered_at": "2021-06-15T02:00:00Z",
            "channel": "hall",
            "org_id": "C01D01O001",
            "staff_id": "S0001",
            "agent_id": "",
            "amount_fen": "0",
        },
        {
            "order_id": "2",
            "subscriber_id": "2",
            "product_id": "PL128",
            "action": "change",
            "ordered_at": "2023-11-02 10:15:00",
            "channel": "agent",
            "org_id": "C01D01O001",
            "staff_id": "",
            "agent_id": "A001",
            "amount_fen": "0",
        },
    ],
    "complaints": [
        {
            "complaint_id": "1",
            "subscriber_id": "2",
            "created_at": "2024-02-20 08:00:00Z",
            "category": "network",
            "severity": "2",
            "resolved_at": "",
            "org_id": "C01",
        },
    ],
    "contact_history": [
        {
            "contact_id": "CRM-0001",
            "subscriber_id": "1",
            "contacted_at": "2024-03-05 10:00:00+08:00",
            "channel": "sms",
            "case_code": "YX202403-RENEW",
            "outcome": "delivered",
        },
        {
            "contact_id": "OLD-17",
            "subscriber_id": "1",
            "contacted_at": "2024-01-20T02:30:00Z",
            "channel": "outbound_call",
            "case_code": "",
            "outcome": "declined",
        },
    ],
}


def edited(table: str, changes: Mapping[int, Mapping[str, str]] | None = None) -> Rows:
    """A copy of ``SAMPLE[table]`` with ``changes`` (row index → new values) applied."""
    rows = [dict(row) for row in SAMPLE[table]]
    for index, values in (changes or {}).items():
        rows[index].update(values)
    return rows


def csv_text(rows: Sequence[Mapping[str, str]], columns: Sequence[str] | None = None) -> str:
    """Comma-separated text with a header; values are quoted only when they need it."""
    header = list(columns) if columns is not None else list(rows[0])

    def cell(value: str) -> str:
        if any(ch in value for ch in ',"\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [",".join(header)]
    lines += [",".join(cell(row.get(c, "")) for c in header) for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, str]],
    *,
    columns: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(rows, columns).encode(encoding))
    return path


def write_province(directory: Path, *, parquet: Sequence[str] = ()) -> Path:
    """Every contract table of ``SAMPLE`` under ``directory``.

    Tables named in ``parquet`` are written as a directory of two Parquet parts
    (text columns, as a CSV-to-Parquet export would have them); the rest as CSV.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in SAMPLE.items():
        if table in parquet:
            parts = directory / table
            parts.mkdir(exist_ok=True)
            half = max(1, len(rows) // 2)
            for index, chunk in enumerate((rows[:half], rows[half:])):
                if chunk:
                    pq.write_table(pa.Table.from_pylist(chunk), parts / f"part-{index}.parquet")
        else:
            write_csv(directory / f"{table}.csv", rows)
    return directory


def warehouse(tmp_path: Path, name: str = "w.duckdb") -> BaseBackend:
    return connect("duckdb://" + str(tmp_path / name))


def load_sample(con: BaseBackend, tmp_path: Path) -> None:
    """Load the whole sample province into ``con``."""
    load_directory(con=con, directory=write_province(tmp_path / "sample"))


_sample_file: Path | None = None


def sample_warehouse(factory: pytest.TempPathFactory, into: Path) -> BaseBackend:
    """A warehouse at ``into`` holding the sample province.

    The province is loaded once per session and its DuckDB file copied for
    each test, which keeps the tests fast and independent.
    """
    global _sample_file
    if _sample_file is None or not _sample_file.exists():
        directory = factory.mktemp("sample-warehouse")
        con = warehouse(directory)
        load_sample(con, directory)
        con.disconnect()
        _sample_file = directory / "w.duckdb"
    shutil.copyfile(_sample_file, into / "w.duckdb")
    return warehouse(into)


def test_sample_province_is_valid_and_complete(tmp_path: Path) -> None:
    assert set(SAMPLE) == set(CONTRACT)
    for table, rows in SAMPLE.items():
        assert all(set(row) == set(CONTRACT[table].column_names) for row in rows), table
    con = warehouse(tmp_path)
    reports = load_directory(con=con, directory=write_province(tmp_path / "p"))
    assert [r.table for r in reports] == list(CONTRACT)
    assert {r.table: r.rows for r in reports} == {t: len(rows) for t, rows in SAMPLE.items()}
