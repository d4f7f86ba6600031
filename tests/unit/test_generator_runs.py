"""Generator runs: determinism, worker independence, safe output directories, the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from telmark.errors import InvalidInput
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province, province
from telmark.warehouse.generator.cli import generate_command
from telmark.warehouse.generator.tables import chunk_tables
from telmark.warehouse.generator.window import make_window
from tests.unit._generator_checks import SPECS, contract_problems, read_table

END = date(2025, 3, 1)


def _tables(root: Path) -> dict[str, pa.Table]:
    return {name: read_table(root, name) for name in SPECS}


def _generate(out: Path, *, seed: int = 3, workers: int = 1, subscribers: int = 3_000) -> None:
    generate_province(
        out_dir=out, subscribers=subscribers, months=3, seed=seed, end_month=END, workers=workers
    )


def test_same_arguments_give_identical_tables(tmp_path: Path) -> None:
    _generate(tmp_path / "a")
    _generate(tmp_path / "b")
    first, second = _tables(tmp_path / "a"), _tables(tmp_path / "b")
    for name in SPECS:
        assert first[name].equals(second[name]), name


def test_another_seed_gives_another_province(tmp_path: Path) -> None:
    _generate(tmp_path / "a", seed=3)
    _generate(tmp_path / "b", seed=4)
    first, second = _tables(tmp_path / "a"), _tables(tmp_path / "b")
    for name in ("subscribers", "usage_monthly", "truth_response", "staff"):
        assert not first[name].equals(second[name]), name


def test_worker_count_never_changes_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(province, "CHUNK_SIZE", 700)  # 5 chunks, the last one short
    _generate(tmp_path / "one", workers=1)
    _generate(tmp_path / "two", workers=2)
    assert len(list((tmp_path / "two" / "subscribers").glob("*.parquet"))) == 5
    first, second = _tables(tmp_path / "one"), _tables(tmp_path / "two")
    for name in SPECS:
        assert first[name].equals(second[name]), name
    ids = first["subscribers"].column("subscriber_id").to_pylist()
    assert ids == list(range(1, 3_001))
    # Ids minted per chunk stay unique and every reference resolves across chunks.
    assert contract_problems(tmp_path / "two") == []


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.docx").write_text("precious", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not written by the generator"):
        _generate(target, subscribers=200)
    assert (target / "thesis.docx").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_replaces_an_earlier_province(tmp_path: Path) -> None:
    target = tmp_path / "gen"
    _generate(target, seed=1, subscribers=300)
    _generate(target, seed=2, subscribers=400)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["seed"] == 2
    assert read_table(target, "subscribers").num_rows == 400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen"]


def test_a_crash_leaves_no_half_province(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    def failing(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk on fire")
        return chunk_tables(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(province, "CHUNK_SIZE", 100)
    monkeypatch.setattr(province, "chunk_tables", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _generate(tmp_path / "gen", subscribers=300)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subscribers": 0}, "subscribers"),
        ({"months": 0}, "months"),
        ({"months": 61}, "months"),
        ({"seed": -1}, "seed"),
        ({"end_month": date(2019, 12, 1)}, "end_month"),
        ({"workers": 0}, "workers"),
    ],
)
def test_rejects_bad_parameters(tmp_path: Path, kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"subscribers": 100, "months": 2, "seed": 1, "end_month": END}
    args.update(kwargs)
    with pytest.raises(InvalidInput) as caught:
        generate_province(out_dir=tmp_path / "gen", **args)  # type: ignore[arg-type]
    assert [d["field"] for d in caught.value.details] == [field]
    assert not (tmp_path / "gen").exists()


def test_default_end_month_is_the_last_complete_month(tmp_path: Path) -> None:
    report = generate_province(out_dir=tmp_path / "gen", subscribers=50, months=1, seed=1)
    today = date.today()  # noqa: DTZ011 - compared only to the month, a day either side is fine
    last = make_window(end_month=None, months=1).end_month
    assert report.end_month == last
    assert last < today.replace(day=1)
    assert (today.replace(day=1) - last).days <= 31


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(generate_command)
    return app


def test_cli_generates_into_the_data_dir_and_prints_json() -> None:
    result = CliRunner().invoke(
        _cli(), ["--subscribers", "500", "--months", "2", "--end-month", "2025-02", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"]["subscribers"] == 500
    assert report["end_month"] == "2025-02-01"
    assert Path(report["out_dir"]).name == "generated"
    assert (Path(report["out_dir"]) / "manifest.json").exists()


def test_cli_load_puts_the_province_in_the_warehouse(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(),
        [
            "-n",
            "400",
            "-m",
            "2",
            "--end-month",
            "2025-02",
            "--out",
            str(tmp_path / "p"),
            "--load",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["loaded_tables"][:2] == ["org_units", "staff"]
    assert "truth_response" in report["loaded_tables"]
    con = connect()
    assert con.table("subscribers").count().to_pyarrow().as_py() == 400
    assert "org_closure" in con.list_tables()
    con.disconnect()


def test_cli_prints_a_summary_table(tmp_path: Path) -> None:
    out = tmp_path / "prov"
    result = CliRunner().invoke(
        _cli(), ["-n", "300", "-m", "1", "--end-month", "2025-02", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "usage_monthly" in result.stdout
    assert "300" in result.stdout
    assert (out / "subscribers").is_dir()


def test_cli_rejects_a_malformed_month(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["--end-month", "June", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "2025-06" in result.output
    assert not (tmp_path / "x").exists()
