"""``import_table``: one table from CSV or Parquet, checked, then loaded atomically."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ibis.backends import BaseBackend

from telmark.errors import InvalidInput
from telmark.warehouse.importer import HEADER, ImportRejected, csv_staging, import_table
from tests.integration.test_import_data import (
    SAMPLE,
    csv_text,
    edited,
    sample_warehouse,
    warehouse,
    write_csv,
)

UTC = dt.UTC


@pytest.fixture
def con(tmp_path: Path) -> BaseBackend:
    return warehouse(tmp_path)


@pytest.fixture
def loaded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> BaseBackend:
    """A warehouse holding the whole sample province."""
    return sample_warehouse(tmp_path_factory, tmp_path)


def rows(con: BaseBackend, table: str) -> list[dict[str, Any]]:
    return sorted(con.table(table).to_pyarrow().to_pylist(), key=repr)


def rejected(**kwargs: Any) -> ImportRejected:
    with pytest.raises(ImportRejected) as caught:
        import_table(**kwargs)
    return caught.value


def problems(error: ImportRejected) -> set[tuple[object, object, object]]:
    """(row, column, reason) of each listed problem."""
    return {(d["row"], d["column"], d["reason"]) for d in error.details}


def test_good_csv_loads_with_the_contract_types(loaded: BaseBackend, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "products.csv", SAMPLE["products"])
    report = import_table(con=loaded, table="products", path=path)
    assert (report.rows, report.previous_rows, report.format) == (2, 2, "csv")
    assert report.encoding == "utf-8"
    schema = loaded.table("products").schema()
    assert [str(schema[c]) for c in ("monthly_fee_fen", "is_5g", "launch_date", "name")] == [
        "int64",
        "boolean",
        "date",
        "string",
    ]
    plan = next(r for r in rows(loaded, "products") if r["product_id"] == "PL128")
    assert plan["monthly_fee_fen"] == 12800
    assert plan["is_5g"] is True
    assert plan["launch_date"] == dt.date(2022, 1, 1)
    assert plan["retire_date"] is None  # empty means missing
    orders = {r["order_id"]: r["ordered_at"] for r in rows(loaded, "orders")}
    assert orders[1] == dt.datetime(2021, 6, 15, 2, 0, tzinfo=UTC)
    assert orders[2] == dt.datetime(2023, 11, 2, 10, 15, tzinfo=UTC)  # no zone means UTC
    recharge = rows(loaded, "recharges")[0]
    assert recharge["recharged_at"] == dt.datetime(2024, 1, 5, 1, 30, tzinfo=UTC)  # +08:00


def test_accepted_spellings_of_dates_booleans_and_numbers(
    loaded: BaseBackend, tmp_path: Path
) -> None:
    data = edited(
        "products",
        {
            0: {"is_5g": "是", "launch_date": "20220101", "data_mb": " +30720 "},
            1: {"is_5g": "N", "launch_date": "2021/6/1", "retire_date": "2025/12/31"},
        },
    )
    import_table(con=loaded, table="products", path=write_csv(tmp_path / "p.csv", data))
    got = {r["product_id"]: r for r in rows(loaded, "products")}
    assert (got["PL128"]["is_5g"], got["PL128"]["launch_date"]) == (True, dt.date(2022, 1, 1))
    assert got["PL128"]["data_mb"] == 30720
    assert (got["BD199"]["is_5g"], got["BD199"]["launch_date"]) == (False, dt.date(2021, 6, 1))
    assert got["BD199"]["retire_date"] == dt.date(2025, 12, 31)


def test_wrong_type_names_file_row_column_and_value(loaded: BaseBackend, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "staff.csv",
        edited("staff", {1: {"level": "two", "hired_date": "2020-02-30"}}),
    )
    error = rejected(con=loaded, table="staff", path=path)
    assert error.total == 2
    assert {(d["file"], d["row"], d["column"], d["value"]) for d in error.details} == {
        (str(path), 3, "level", "two"),
        (str(path), 3, "hired_date", "2020-02-30"),
    }
    assert "not an integer" in {d["reason"] for d in error.details}
    assert str(path) in error.message
    assert "2 problems" in error.message
    assert isinstance(error, InvalidInput)


def test_missing_required_column_is_named(loaded: BaseBackend, tmp_path: Path) -> None:
    columns = [c for c in SAMPLE["staff"][0] if c != "grade"]
    path = write_csv(tmp_path / "staff.csv", SAMPLE["staff"], columns=columns)
    error = rejected(con=loaded, table="staff", path=path)
    assert problems(error) == {(HEADER, "grade", "required column is missing")}


def test_missing_optional_column_loads_as_null(loaded: BaseBackend, tmp_path: Path) -> None:
    columns = [c for c in SAMPLE["org_units"][0] if c != "name_en"]
    path = write_csv(tmp_path / "org.csv", SAMPLE["org_units"], columns=columns)
    import_table(con=loaded, table="org_units", path=path)
    assert {r["name_en"] for r in rows(loaded, "org_units")} == {None}


def test_extra_column_is_rejected_by_name(loaded: BaseBackend, tmp_path: Path) -> None:
    data = [{**row, "Grade": "1", "remark": "x"} for row in SAMPLE["staff"]]
    error = rejected(con=loaded, table="staff", path=write_csv(tmp_path / "s.csv", data))
    reasons = {d["column"]: d["reason"] for d in error.details}
    assert set(reasons) == {"Grade", "remark"}
    assert reasons["Grade"] == "unknown column; did you mean 'grade'?"
    assert all(d["row"] == HEADER for d in error.details)


def test_duplicate_key_names_the_rows(loaded: BaseBackend, tmp_path: Path) -> None:
    data = edited("usage_monthly", {2: {"subscriber_id": "1", "month": "2024-02-01"}})
    data.append(dict(data[0]))  # row 5 repeats row 2
    error = rejected(con=loaded, table="usage_monthly", path=write_csv(tmp_path / "u.csv", data))
    assert error.total == 2
    assert {(d["row"], d["value"], d["reason"]) for d in error.details} == {
        (4, "1, 2024-02-01", "duplicate key; the same subscriber_id, month is at row 3"),
        (5, "1, 2024-01-01", "duplicate key; the same subscriber_id, month is at row 2"),
    }


def test_dangling_reference_to_the_warehouse(loaded: BaseBackend, tmp_path: Path) -> None:
    data = edited("subscriptions", {1: {"subscriber_id": "99", "product_id": "NOPE"}})
    error = rejected(con=loaded, table="subscriptions", path=write_csv(tmp_path / "s.csv", data))
    assert problems(error) == {
        (3, "subscriber_id", "not found in subscribers.subscriber_id in the warehouse"),
        (3, "product_id", "not found in products.product_id in the warehouse"),
    }


def test_reference_to_a_table_not_yet_loaded(con: BaseBackend, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "staff.csv", SAMPLE["staff"])
    error = rejected(con=con, table="staff", path=path)
    [detail] = error.details
    assert (detail["row"], detail["column"]) == (HEADER, "org_id")
    assert "no table org_units" in str(detail["reason"])


def test_self_reference_resolves_within_the_file(con: BaseBackend, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "org.csv", SAMPLE["org_units"])
    assert import_table(con=con, table="org_units", path=good).rows == 6
    bad = write_csv(tmp_path / "bad.csv", edited("org_units", {2: {"parent_id": "C99"}}))
    error = rejected(con=con, table="org_units", path=bad)
    assert problems(error) == {
        (4, "parent_id", "not found in org_units.org_id of the files being loaded")
    }


def test_utf8_with_bom_loads(loaded: BaseBackend, tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(SAMPLE["staff"]).encode("utf-8"))
    report = import_table(con=loaded, table="staff", path=path)
    assert report.encoding == "utf-8-sig"
    assert {r["name"] for r in rows(loaded, "staff")} == {"张伟", "李娜"}
    assert "staff_id" in loaded.table("staff").columns  # the BOM is not part of the name


@pytest.mark.parametrize(
    ("written", "given", "expected"),
    [("gbk", "auto", "gb18030"), ("gb18030", "auto", "gb18030"), ("gbk", "gbk", "gbk")],
)
def test_gbk_chinese_loads_and_reads_back(
    loaded: BaseBackend, tmp_path: Path, written: str, given: str, expected: str
) -> None:
    data = edited("org_units", {5: {"name": "政企客户中心（镕）"}})  # 镕 is GBK, not GB2312
    path = tmp_path / "org.csv"  # as Windows writes it: GBK with CRLF line ends
    path.write_bytes(csv_text(data).replace("\n", "\r\n").encode(written))
    report = import_table(con=loaded, table="org_units", path=path, encoding=given)
    assert report.encoding == expected
    assert {r["name"] for r in rows(loaded, "org_units")} == {r["name"] for r in data}


def test_gbk_after_a_long_ascii_start_is_still_detected(
    loaded: BaseBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_staging, "BLOCK_SIZE", 4096)  # the Chinese row comes many blocks in
    data = [
        {
            "staff_id": f"S{i:05d}",
            "name": "Wei",
            "org_id": "C01",
            "level": "2",
            "grade": "5",
            "position": "analyst",
            "hired_date": "2019-03-01",
        }
        for i in range(2000)
    ]
    data[-1]["name"] = "王伟"
    path = write_csv(tmp_path / "staff.csv", data, encoding="gbk")
    assert import_table(con=loaded, table="staff", path=path).encoding == "gb18030"
    assert loaded.table("staff").filter(lambda t: t.staff_id == "S01999").to_pyarrow()[
        "name"
    ].to_pylist() == ["王伟"]


def test_wrong_explicit_encoding_names_the_line(loaded: BaseBackend, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "org.csv", SAMPLE["org_units"], encoding="gbk")
    error = rejected(con=loaded, table="org_units", path=path, encoding="utf-8")
    [detail] = error.details
    assert detail["row"] == 2  # the first line with Chinese text
    assert "not valid in utf-8" in str(detail["reason"])


def test_bytes_valid_in_no_encoding_are_located(loaded: BaseBackend, tmp_path: Path) -> None:
    data = [
        {
            "staff_id": f"S{i:06d}",
            "name": "Wei",
            "org_id": "C01",
            "level": "2",
            "grade": "5",
            "position": "analyst",
            "hired_date": "2019-03-01",
        }
        for i in range(30_000)
    ]  # about 1.4 MB: the bad bytes lie past the block the header is read from
    path = tmp_path / "staff.csv"
    text = csv_text(data).encode("utf-8")
    cut = text.index(b"S029000")
    path.write_bytes(text[:cut] + b"\xff\xfe" + text[cut:])
    error = rejected(con=loaded, table="staff", path=path)
    assert [(d["row"], d["value"]) for d in error.details] == [(29_002, "0xFF")]
    assert "not valid in gb18030" in str(error.details[0]["reason"])


def test_unknown_encoding_is_invalid_input(loaded: BaseBackend, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "org.csv", SAMPLE["org_units"])
    with pytest.raises(InvalidInput, match="unknown encoding"):
        import_table(con=loaded, table="org_units", path=path, encoding="klingon")


def test_range_allowed_and_pattern_errors(loaded: BaseBackend, tmp_path: Path) -> None:
    data = edited(
        "subscribers",
        {
            0: {"birth_year": "1850", "gender": "X"},
            1: {"msisdn": "1380000000", "id_number": "33010619850505003x", "status": "gone"},
        },
    )
    path = write_csv(tmp_path / "subs.csv", data)
    error = rejected(con=loaded, table="subscribers", path=path)
    found = problems(error)
    assert (2, "birth_year", "below the minimum 1900") in found
    assert (2, "gender", "not one of: M, F") in found
    assert (3, "msisdn", r"does not match the pattern ^1[3-9][0-9]{9}$") in found
    assert (3, "id_number", r"does not match the pattern ^[0-9]{17}[0-9X]$") in found
    assert (3, "status", "not one of: active, suspended, ported_out, terminated") in found
    assert error.total == len(found) == 5


def test_required_value_missing(loaded: BaseBackend, tmp_path: Path) -> None:
    data = edited("staff", {0: {"name": "  ", "hired_date": ""}})
    error = rejected(con=loaded, table="staff", path=write_csv(tmp_path / "s.csv", data))
    assert problems(error) == {
        (2, "name", "required value is missing"),
        (2, "hired_date", "required value is missing"),
    }


def test_many_errors_are_capped_with_a_total(loaded: BaseBackend, tmp_path: Path) -> None:
    data = [
        {
            "subscriber_id": "1",
            "month": f"2024-{m:02d}-01",
            "arpu_fen": "-1",
            "data_mb": "x",
            "voice_min": "1",
            "sms_count": "1",
            "roaming_fen": "0",
            "overage_fen": "0",
            "dropped_calls": "0",
        }
        for m in range(1, 13)
    ] * 10  # 240 row problems and 108 duplicate keys
    path = write_csv(tmp_path / "u.csv", data)
    error = rejected(con=loaded, table="usage_monthly", path=path, max_errors=25)
    assert len(error.details) == 25
    assert error.total == 240 + 108
    assert error.more == error.total - 25
    assert "348 problems" in error.message
    assert [d["row"] for d in error.details[:4]] == [2, 2, 3, 3]  # file order


def test_row_numbers_stay_right_across_many_blocks(
    loaded: BaseBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_staging, "BLOCK_SIZE", 2048)
    data = [
        {
            "subscriber_id": str(1 + i % 2),
            "month": f"{2000 + i // 24}-{1 + (i // 2) % 12:02d}-01",
            "arpu_fen": "100",
            "data_mb": "1",
            "voice_min": "1",
            "sms_count": "1",
            "roaming_fen": "0",
            "overage_fen": "0",
            "dropped_calls": "0",
        }
        for i in range(3000)
    ]
    data[2500]["arpu_fen"] = "oops"
    error = rejected(con=loaded, table="usage_monthly", path=write_csv(tmp_path / "u.csv", data))
    assert problems(error) == {(2502, "arpu_fen", "not an integer")}


def test_malformed_rows_are_reported_with_their_line(loaded: BaseBackend, tmp_path: Path) -> None:
    text = csv_text(SAMPLE["staff"]).splitlines()
    text.insert(2, "S0003,王强,C01,2")
    path = tmp_path / "staff.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    error = rejected(con=loaded, table="staff", path=path)
    assert [(d["row"], d["value"], d["reason"]) for d in error.details] == [
        (3, "S0003,王强,C01,2", "has 4 fields, the header has 7")
    ]


def test_empty_file_needs_a_header(loaded: BaseBackend, tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_bytes(b"")
    error = rejected(con=loaded, table="staff", path=path)
    assert [d["reason"] for d in error.details] == ["file is empty; a header row is required"]


def test_header_only_file_empties_the_table(loaded: BaseBackend, tmp_path: Path) -> None:
    path = tmp_path / "agents.csv"
    path.write_text(",".join(SAMPLE["agents"][0]) + "\n", encoding="utf-8")
    report = import_table(con=loaded, table="agents", path=path)
    assert (report.rows, report.previous_rows) == (0, 1)
    assert rows(loaded, "agents") == []


@pytest.mark.parametrize(
    "bad",
    [
        {"level": "9"},  # range
        {"org_id": "C99"},  # reference
        {"staff_id": "S0001"},  # duplicate key
        {"position": "ceo"},  # allowed values
    ],
)
def test_a_rejected_import_leaves_the_table_as_it_was(
    loaded: BaseBackend, tmp_path: Path, bad: dict[str, str]
) -> None:
    before = rows(loaded, "staff")
    data = edited("staff", {1: {"name": "新名字", **bad}})
    with pytest.raises(ImportRejected):
        import_table(con=loaded, table="staff", path=write_csv(tmp_path / "s.csv", data))
    assert rows(loaded, "staff") == before


def test_a_failure_while_writing_leaves_the_table_as_it_was(
    loaded: BaseBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = rows(loaded, "org_units")
    path = write_csv(tmp_path / "org.csv", edited("org_units", {1: {"name": "改名"}}))

    def crash(_con: BaseBackend) -> None:
        raise RuntimeError("power cut")

    # The closure is rebuilt inside the load's transaction, after the new
    # org_units is written: failing there must undo the write.
    monkeypatch.setattr("telmark.warehouse.importer.service.refresh_org_closure", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        import_table(con=loaded, table="org_units", path=path)
    assert rows(loaded, "org_units") == before


def test_org_closure_is_rebuilt_with_org_units(loaded: BaseBackend, tmp_path: Path) -> None:
    data = [
        *SAMPLE["org_units"],
        {"org_id": "C02", "parent_id": "P", "kind": "city", "name": "新城市", "name_en": ""},
    ]
    import_table(con=loaded, table="org_units", path=write_csv(tmp_path / "org.csv", data))
    closure = loaded.table("org_closure")
    below_province = closure.filter(closure.ancestor_id == "P").count().to_pyarrow().as_py()
    assert below_province == 7


def test_parquet_file_with_typed_columns(loaded: BaseBackend, tmp_path: Path) -> None:
    table = pa.table(
        {
            "subscriber_id": pa.array([1, 2], pa.int32()),
            "month": pa.array([dt.date(2024, 3, 1)] * 2),
            "arpu_fen": pa.array([100.0, 250.0]),  # whole floats are integers
            "data_mb": [1, 2],
            "voice_min": [3, 4],
            "sms_count": [0, 0],
            "roaming_fen": [0, 0],
            "overage_fen": [0, 0],
            "dropped_calls": [0, 1],
        }
    )
    pq.write_table(table, tmp_path / "usage.parquet")
    report = import_table(con=loaded, table="usage_monthly", path=tmp_path / "usage.parquet")
    assert (report.rows, report.format, report.encoding) == (2, "parquet", None)
    assert {(r["subscriber_id"], r["arpu_fen"]) for r in rows(loaded, "usage_monthly")} == {
        (1, 100),
        (2, 250),
    }
    assert str(loaded.table("usage_monthly").schema()["subscriber_id"]) == "int64"


def test_parquet_directory_of_parts_names_the_part_and_row(
    loaded: BaseBackend, tmp_path: Path
) -> None:
    parts = tmp_path / "usage"
    parts.mkdir()
    data = edited("usage_monthly", {1: {"arpu_fen": "1.5"}})
    # Text columns, as a CSV-to-Parquet export leaves them: parsed like CSV.
    pq.write_table(pa.Table.from_pylist(SAMPLE["usage_monthly"][:2]), parts / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(data[1:]), parts / "part-1.parquet")  # repeats row 2
    (parts / "_SUCCESS").write_text("")  # what Spark leaves beside the parts
    error = rejected(con=loaded, table="usage_monthly", path=parts)
    first, second = str(parts / "part-0.parquet"), str(parts / "part-1.parquet")
    assert {(d["file"], d["row"], d["column"], d["value"], d["reason"]) for d in error.details} == {
        (second, 1, "arpu_fen", "1.5", "not an integer"),
        (
            second,
            1,
            "subscriber_id, month",
            "1, 2024-02-01",
            f"duplicate key; the same subscriber_id, month is at row 2 of {first}",
        ),
    }


def test_parquet_parts_may_differ_in_optional_columns(loaded: BaseBackend, tmp_path: Path) -> None:
    parts = tmp_path / "org_units"
    parts.mkdir()
    units = SAMPLE["org_units"]
    pq.write_table(pa.Table.from_pylist(units[:3]), parts / "part-0.parquet")
    without = [{k: v for k, v in row.items() if k != "name_en"} for row in units[3:]]
    pq.write_table(pa.Table.from_pylist(without), parts / "part-1.parquet")
    assert import_table(con=loaded, table="org_units", path=parts).rows == 6
    names = {r["org_id"]: r["name_en"] for r in rows(loaded, "org_units")}
    assert (names["C01"], names["KA01"], names["C01D01"]) == ("Lin'an", None, None)


def test_parquet_timestamps_are_kept_as_instants(loaded: BaseBackend, tmp_path: Path) -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    utc_wall_clock = pa.array([dt.datetime(2024, 1, 5, 1, 30, tzinfo=UTC)]).cast(pa.timestamp("us"))
    for name, moment in (
        ("aware", pa.array([dt.datetime(2024, 1, 5, 9, 30, tzinfo=beijing)])),
        ("naive", utc_wall_clock),  # a timestamp without a zone is UTC
    ):
        table = pa.Table.from_pylist(SAMPLE["recharges"]).set_column(2, "recharged_at", moment)
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path)
        import_table(con=loaded, table="recharges", path=path)
        [row] = rows(loaded, "recharges")
        assert row["recharged_at"] == dt.datetime(2024, 1, 5, 1, 30, tzinfo=UTC), name


def test_csv_directory_of_parts(loaded: BaseBackend, tmp_path: Path) -> None:
    usage = SAMPLE["usage_monthly"]
    write_csv(tmp_path / "usage" / "a.csv", usage[:2])
    write_csv(tmp_path / "usage" / "b.csv", edited("usage_monthly", {2: {"sms_count": "-1"}})[2:])
    error = rejected(con=loaded, table="usage_monthly", path=tmp_path / "usage")
    assert [(d["file"], d["row"], d["column"]) for d in error.details] == [
        (str(tmp_path / "usage" / "b.csv"), 2, "sms_count")
    ]
    write_csv(tmp_path / "usage" / "b.csv", usage[2:])
    report = import_table(con=loaded, table="usage_monthly", path=tmp_path / "usage")
    assert (report.rows, len(report.files)) == (3, 2)


def test_parquet_column_of_an_impossible_type(loaded: BaseBackend, tmp_path: Path) -> None:
    data = pa.Table.from_pylist(SAMPLE["agents"]).set_column(5, "since_date", pa.array([True]))
    pq.write_table(data, tmp_path / "agents.parquet")
    error = rejected(con=loaded, table="agents", path=tmp_path / "agents.parquet")
    assert problems(error) == {(HEADER, "since_date", "type boolean cannot hold a date column")}


def test_progress_reports_bytes_read(loaded: BaseBackend, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "staff.csv", SAMPLE["staff"])
    seen: list[tuple[str, int, int]] = []
    import_table(con=loaded, table="staff", path=path, progress=lambda *args: seen.append(args))
    size = path.stat().st_size
    assert ("reading staff", size, size) in seen
    assert ("loading staff", 1, 1) in seen
    assert any(label == "checking staff" for label, _, _ in seen)


def test_unknown_table_and_missing_path(loaded: BaseBackend, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown table 'subscriber'"):
        import_table(con=loaded, table="subscriber", path=tmp_path / "x.csv")
    with pytest.raises(InvalidInput, match="no such file"):
        import_table(con=loaded, table="staff", path=tmp_path / "missing.csv")


def test_staging_leaves_nothing_behind(loaded: BaseBackend, tmp_path: Path) -> None:
    data = edited("staff", {0: {"level": "x"}})
    with pytest.raises(ImportRejected):
        import_table(con=loaded, table="staff", path=write_csv(tmp_path / "s.csv", data))
    import_table(con=loaded, table="staff", path=write_csv(tmp_path / "t.csv", SAMPLE["staff"]))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".telmark-import-")]
    catalog = loaded.table("tables", database="information_schema")  # temporary views too
    names = catalog.select("table_name").to_pyarrow().column("table_name").to_pylist()
    assert "staff" in names
    assert not [name for name in names if name.startswith("telmark_")]
