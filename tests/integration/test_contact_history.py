"""Contact history: an optional contract table, and the ``contacted`` condition's days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from telmark.errors import WarehouseEmpty
from telmark.segments.compile import compile_rule
from telmark.segments.rules import parse_rule
from telmark.warehouse.contract import CONTACT_HISTORY
from telmark.warehouse.importer import ImportRejected, import_table, load_directory
from telmark.warehouse.importer.load import drop
from telmark.warehouse.scope import ScopedWarehouse
from tests._factories.segments import PandasWarehouse, load_warehouse, province_directory
from tests.integration.test_import_data import warehouse, write_csv, write_province

CONTACTS = [
    {
        "contact_id": "CRM-1",
        "subscriber_id": "1",
        "contacted_at": "2024-03-30 23:30:00+08:00",
        "channel": "sms",
        "case_code": "YX202403-续约",
        "outcome": "delivered",
    },
    {
        "contact_id": "OLD-'1\"; --",
        "subscriber_id": "1",
        "contacted_at": "2024-02-01T01:00:00Z",
        "channel": "outbound_call",
        "case_code": "",
        "outcome": "declined",
    },
]


def province_without_contacts(directory: Path) -> Path:
    write_province(directory)
    for leftover in (directory / "contact_history.csv", directory / "contact_history"):
        if leftover.is_file():
            leftover.unlink()
    return directory


def test_a_province_without_contact_history_loads_and_gets_an_empty_table(
    tmp_path: Path,
) -> None:
    con = warehouse(tmp_path)
    reports = load_directory(con=con, directory=province_without_contacts(tmp_path / "p"))
    assert "contact_history" not in [r.table for r in reports]
    table = con.table("contact_history")
    assert table.columns == CONTACT_HISTORY.column_names
    assert table.count().to_pyarrow().as_py() == 0
    # Typed as a loaded table would be: the timestamp as the loaded recharges' one.
    assert table.schema()["contacted_at"] == con.table("recharges").schema()["recharged_at"]
    assert table.schema()["subscriber_id"] == con.table("recharges").schema()["subscriber_id"]
    # A contacted condition then simply matches nobody.
    rule = parse_rule({"version": 1, "root": {"kind": "contacted", "days": 30}})
    assert compile_rule(con, rule, as_of=date(2024, 3, 1)).to_pyarrow().num_rows == 0


def test_loaded_history_is_kept_by_a_load_without_it(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    load_directory(con=con, directory=province_without_contacts(tmp_path / "p"))
    report = import_table(
        con=con, table="contact_history", path=write_csv(tmp_path / "c.csv", CONTACTS)
    )
    assert (report.rows, report.previous_rows) == (2, 0)
    rows = sorted(con.table("contact_history").to_pyarrow().to_pylist(), key=repr)
    assert [r["case_code"] for r in rows] == ["YX202403-续约", None]
    assert rows[1]["contact_id"] == "OLD-'1\"; --"
    load_directory(con=con, directory=province_without_contacts(tmp_path / "p2"))
    assert con.table("contact_history").count().to_pyarrow().as_py() == 2


def test_bad_contacts_are_rejected_with_row_and_column(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    load_directory(con=con, directory=province_without_contacts(tmp_path / "p"))
    bad = [
        {**CONTACTS[0], "channel": "fax"},
        {**CONTACTS[1], "subscriber_id": "999"},
        {**CONTACTS[0], "outcome": ""},  # and CRM-1 again
    ]
    with pytest.raises(ImportRejected) as caught:
        import_table(con=con, table="contact_history", path=write_csv(tmp_path / "c.csv", bad))
    found = {(d["row"], d["column"]) for d in caught.value.details}
    assert found == {(2, "channel"), (3, "subscriber_id"), (4, "contact_id"), (4, "outcome")}
    assert con.table("contact_history").count().to_pyarrow().as_py() == 0


# -- the contacted condition ------------------------------------------------------------


def _at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


# The province's September 2026 ends at 2026-09-30T16:00Z (midnight in Beijing).
PLANTED: list[tuple[int, datetime, str, str | None, str]] = [
    (0, _at(9, 30, 15, 59, 59), "sms", "YX-A", "delivered"),  # 09-30 23:59:59 local
    (1, _at(9, 30, 16, 0, 0), "sms", "YX-A", "delivered"),  # 10-01 00:00 local: after
    (2, _at(9, 29, 16, 0, 0), "app_push", None, "responded"),  # 09-30 00:00 local
    (3, _at(9, 29, 15, 59, 59), "outbound_call", "YX-B", "declined"),  # 09-29 local
    (4, _at(9, 1, 16, 0, 0), "frontline_task", "YX-B", "responded"),  # 09-02 local
    (4, _at(8, 20, 2, 0, 0), "sms", "YX-C", "opted_out"),
]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BaseBackend, list[int]]]:
    root = tmp_path_factory.mktemp("contacted")
    con = load_warehouse(province_directory(root, subscribers=300, seed=3), root / "w.duckdb")
    ids = sorted(con.table("subscribers").subscriber_id.to_pyarrow().to_pylist())[:5]
    rows = [
        {
            "contact_id": f"T{n}",
            "subscriber_id": ids[who],
            "contacted_at": at,
            "channel": channel,
            "case_code": code,
            "outcome": outcome,
        }
        for n, (who, at, channel, code, outcome) in enumerate(PLANTED)
    ]
    schema = con.table("contact_history").to_pyarrow().schema
    con.create_table("contact_history", pa.Table.from_pylist(rows, schema=schema), overwrite=True)
    yield con, ids
    con.disconnect()


def contacted(con: BaseBackend, root: dict[str, Any], as_of: date | None = None) -> set[int]:
    rule = parse_rule({"version": 1, "root": root})
    return set(
        compile_rule(con, rule, as_of=as_of).to_pyarrow().column("subscriber_id").to_pylist()
    )


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"kind": "contacted", "days": 1}, {0, 2}),
        ({"kind": "contacted", "days": 2}, {0, 2, 3}),
        ({"kind": "contacted", "days": 29}, {0, 2, 3, 4}),
        ({"kind": "contacted", "days": 30, "channels": ["sms"]}, {0}),
        ({"kind": "contacted", "days": 60, "channels": ["sms"]}, {0, 4}),
        ({"kind": "contacted", "days": 60, "case_codes": ["YX-B"]}, {3, 4}),
        ({"kind": "contacted", "days": 60, "outcomes": ["responded", "opted_out"]}, {2, 4}),
        (
            {
                "kind": "contacted",
                "days": 60,
                "channels": ["frontline_task", "app_push"],
                "case_codes": ["YX-B", "YX-C"],
                "outcomes": ["responded"],
            },
            {4},
        ),
    ],
)
def test_contacts_count_on_province_local_days(
    planted: tuple[BaseBackend, list[int]], node: dict[str, Any], expected: set[int]
) -> None:
    con, ids = planted
    assert contacted(con, node) == {ids[i] for i in expected}
    assert contacted(con, node) == PandasWarehouse.read(con).members({"version": 1, "root": node})


def test_not_contacted_is_the_complement_and_as_of_moves_the_window(
    planted: tuple[BaseBackend, list[int]],
) -> None:
    con, ids = planted
    node = {"kind": "contacted", "days": 30}
    everyone = set(con.table("subscribers").subscriber_id.to_pyarrow().to_pylist())
    assert contacted(con, {"not": node}) == everyone - {ids[i] for i in (0, 2, 3, 4)}
    # As of August the window ends on 08-31: only the opt-out of 08-20 is in it.
    assert contacted(con, node, as_of=date(2026, 8, 1)) == {ids[4]}


def test_scope_and_a_missing_table(planted: tuple[BaseBackend, list[int]], tmp_path: Path) -> None:
    con, ids = planted
    node = {"kind": "contacted", "days": 60}
    for city in ("C01", "C02"):
        scoped = ScopedWarehouse(con, city)
        in_city = set(scoped.table("subscribers").subscriber_id.to_pyarrow().to_pylist())
        assert contacted(scoped, node) == contacted(con, node) & in_city
        seen = set(scoped.table("contact_history").subscriber_id.to_pyarrow().to_pylist())
        assert seen <= in_city
    bare = load_warehouse(province_directory(tmp_path, subscribers=50, seed=1), tmp_path / "b.db")
    try:
        drop(bare, "contact_history")
        with pytest.raises(WarehouseEmpty, match="contact_history"):
            contacted(bare, node)
        # Any other table a condition reads is explained the same way, not a server error.
        drop(bare, "households")
        with pytest.raises(WarehouseEmpty, match="households") as caught:
            compile_rule(
                bare, parse_rule({"version": 1, "root": {"kind": "household", "has": "iptv"}})
            )
        assert caught.value.details == [{"table": "households"}]
    finally:
        bare.disconnect()
