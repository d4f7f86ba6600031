"""``telmark analysis value refresh|summary`` and ``retention fit --from-warehouse``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telmark.analysis.cli import app
from telmark.config import get_settings
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("value-cli")
    generate_province(
        out_dir=root / "p", subscribers=1_200, months=4, seed=9, end_month=date(2026, 6, 1)
    )
    url = "duckdb://" + str(root / "w.duckdb")
    con = connect(url)
    load_directory(con=con, directory=root / "p")
    con.disconnect()
    return url


@pytest.fixture
def env(warehouse: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse)
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("env")
def test_refresh_then_summary() -> None:
    code, out, err = _run("value", "summary")
    assert code != 0
    assert "value refresh" in err
    code, out, err = _run("value", "refresh", "--half-life-months", "6", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["subscribers"] == 1_200
    assert data["half_life_months"] == 6
    assert data["as_of_month"] == "2026-06-01"
    assert [t["tier"] for t in data["tiers"]] == ["vip", "gold", "star", "non_member"]
    code, out, err = _run("value", "refresh")
    assert code == 0, err
    assert "customer_value rebuilt" in out
    assert "Value tiers" in out
    code, out, err = _run("value", "summary", "--json")
    assert code == 0, err
    assert json.loads(out)["subscribers"] == 1_200
    code, out, _ = _run("value", "summary")
    assert "南京市 (C01)" in out


@pytest.mark.usefixtures("env")
def test_bad_refresh_options_are_refused() -> None:
    code, _, err = _run("value", "refresh", "--horizon", "0")
    assert code == 2
    assert "horizon" in err


@pytest.mark.usefixtures("env")
def test_retention_fit_from_the_warehouse() -> None:
    code, out, err = _run("retention", "fit", "--from-warehouse", "--cohort-months", "5", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["cohorts"]) == 5
    assert data["pooled"]["cohorts"] > 5
    assert data["data_start_month"] == "2026-03-01"
    code, out, err = _run("retention", "fit", "--from-warehouse")
    assert code == 0, err
    assert "Pooled sBG" in out
    code, _, err = _run("retention", "fit", "--from-warehouse", "--survivors", "10,5")
    assert code == 2
    assert "either" in err
    code, _, err = _run("retention", "fit")
    assert code == 2


def test_an_empty_warehouse_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", "duckdb://" + str(tmp_path / "none.duckdb"))
    get_settings.cache_clear()
    code, _, err = _run("value", "refresh")
    assert code != 0
    assert "telmark data generate" in err
