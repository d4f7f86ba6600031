"""``load_directory``: a whole province, references checked within the batch, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ibis.backends import BaseBackend

from telmark.errors import InvalidInput
from telmark.warehouse.contract import CONTRACT, OFFER_TYPES
from telmark.warehouse.importer import ImportRejected, load_directory
from telmark.warehouse.importer.load import warehouse_tables
from tests.integration.test_import_data import (
    SAMPLE,
    edited,
    sample_warehouse,
    warehouse,
    write_csv,
    write_province,
)


@pytest.fixture
def loaded(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> BaseBackend:
    return sample_warehouse(tmp_path_factory, tmp_path)


def contents(con: BaseBackend) -> dict[str, list[dict[str, Any]]]:
    """Every contract table's rows, in a stable order."""
    return {
        table: sorted(con.table(table).to_pyarrow().to_pylist(), key=repr) for table in CONTRACT
    }


def test_loads_a_province_of_mixed_formats_in_load_order(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    directory = write_province(tmp_path / "p", parquet=["subscribers", "usage_monthly"])
    reports = load_directory(con=con, directory=directory)
    assert [r.table for r in reports] == list(CONTRACT)
    formats = {r.table: r.format for r in reports}
    assert (formats["subscribers"], formats["usage_monthly"], formats["staff"]) == (
        "parquet",
        "parquet",
        "csv",
    )
    assert all(r.previous_rows is None for r in reports)
    assert {t: len(rows) for t, rows in contents(con).items()} == {
        t: len(rows) for t, rows in SAMPLE.items()
    }
    assert "org_closure" in warehouse_tables(con)


def test_truth_tables_are_loaded_when_present(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    directory = write_province(tmp_path / "p")
    truth = {
        "subscriber_id": "1",
        "base_propensity": "0.02",
        **{f"uplift_{offer}": "0.01" for offer in OFFER_TYPES},
    }
    write_csv(directory / "truth_response.csv", [truth, {**truth, "subscriber_id": "2"}])
    reports = load_directory(con=con, directory=directory)
    assert reports[-1].table == "truth_response"
    assert reports[-1].rows == 2
    assert con.table("truth_response").schema()["uplift_gift"].is_floating()


def test_one_bad_table_rejects_the_whole_batch(loaded: BaseBackend, tmp_path: Path) -> None:
    before = contents(loaded)
    directory = write_province(tmp_path / "p")
    write_csv(directory / "subscribers.csv", edited("subscribers", {0: {"customer_name": "新"}}))
    write_csv(directory / "complaints.csv", edited("complaints", {0: {"severity": "7"}}))
    with pytest.raises(ImportRejected) as caught:
        load_directory(con=loaded, directory=directory)
    assert [(d["file"], d["row"], d["column"]) for d in caught.value.details] == [
        (str(directory / "complaints.csv"), 2, "severity")
    ]
    assert contents(loaded) == before


def test_a_failure_after_writing_rolls_back_every_table(
    loaded: BaseBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = contents(loaded)
    directory = write_province(tmp_path / "p")
    write_csv(directory / "products.csv", edited("products", {0: {"name": "改名套餐"}}))

    def crash(_con: BaseBackend) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("telmark.warehouse.importer.service.refresh_org_closure", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        load_directory(con=loaded, directory=directory)
    assert contents(loaded) == before


def test_references_resolve_against_the_batch_not_the_warehouse(
    loaded: BaseBackend, tmp_path: Path
) -> None:
    directory = write_province(tmp_path / "p")
    write_csv(directory / "subscribers.csv", SAMPLE["subscribers"][:1])  # drops subscriber 2
    with pytest.raises(ImportRejected) as caught:
        load_directory(con=loaded, directory=directory)
    where = "not found in subscribers.subscriber_id of the files being loaded"
    found = {(Path(str(d["file"])).name, d["row"]) for d in caught.value.details}
    assert all(d["reason"] == where for d in caught.value.details)
    assert found == {
        ("subscriptions.csv", 3),
        ("usage_monthly.csv", 4),
        ("recharges.csv", 2),
        ("orders.csv", 3),
        ("complaints.csv", 2),
    }


def test_a_missing_table_is_reported_before_anything_is_read(
    loaded: BaseBackend, tmp_path: Path
) -> None:
    directory = write_province(tmp_path / "p")
    (directory / "agents.csv").unlink()
    write_csv(directory / "staff.parquet", SAMPLE["staff"])  # beside staff.csv
    with pytest.raises(ImportRejected) as caught:
        load_directory(con=loaded, directory=directory)
    reasons = sorted(str(d["reason"]) for d in caught.value.details)
    assert reasons == [
        "no input for table agents (expected agents/, agents.csv or agents.parquet)",
        "staff.csv and staff.parquet both exist for table staff; keep one",
    ]


def test_a_subset_of_tables(loaded: BaseBackend, tmp_path: Path) -> None:
    directory = tmp_path / "p"
    write_csv(directory / "products.csv", edited("products", {0: {"name": "新名"}}))
    reports = load_directory(con=loaded, directory=directory, tables=["products"])
    assert [(r.table, r.rows, r.previous_rows) for r in reports] == [("products", 2, 2)]
    names = {r["name"] for r in loaded.table("products").to_pyarrow().to_pylist()}
    assert "新名" in names
    with pytest.raises(InvalidInput, match="unknown table"):
        load_directory(con=loaded, directory=directory, tables=["product"])
