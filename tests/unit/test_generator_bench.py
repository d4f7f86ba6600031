"""The generate benchmark: its anchor mirrors the contract, and a tiny run completes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest

from telmark.warehouse.contract import CONTRACT, TRUTH
from telmark.warehouse.generator.writer import arrow_schema

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load_script() -> ModuleType:
    """The benchmark is a script, not a package module: load it from its file."""
    sys.path.insert(0, str(BENCHMARKS))  # for its sibling helper, _common
    spec = importlib.util.spec_from_file_location(
        "bench_generate", BENCHMARKS / "bench_generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_generate = _load_script()


def test_anchor_files_have_the_contract_columns_and_types(tmp_path: Path) -> None:
    specs = {**CONTRACT, **TRUTH}
    seconds = bench_generate.run_anchor(dict.fromkeys(specs, 50), tmp_path)
    assert set(seconds) == set(specs)
    for name, spec in specs.items():
        schema = pq.read_schema(tmp_path / f"{name}.parquet")
        expected = arrow_schema(spec)
        assert schema.names == expected.names, name
        assert schema.types == expected.types, name
        assert pq.read_metadata(tmp_path / f"{name}.parquet").num_rows == 50


def test_a_small_run_reports_without_touching_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = BENCHMARKS / "RESULTS.md"
    before = results.read_text(encoding="utf-8") if results.exists() else None
    code = bench_generate.main(
        ["--subscribers", "2000", "--months", "1", "--scratch", str(tmp_path), "--no-results"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "ratio" in out
    assert "target" in out
    assert not (tmp_path / "province").exists()  # the province is removed after measuring
    assert (tmp_path / "anchor" / "usage_monthly.parquet").exists()
    after = results.read_text(encoding="utf-8") if results.exists() else None
    assert after == before
