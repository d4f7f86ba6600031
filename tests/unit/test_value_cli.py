"""``telmark analysis retention fit`` and ``clv fit``: JSON for scripts, tables, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from telmark.analysis.cli import app
from tests._factories.value import cdnow_transactions

HIGH_END = "1000,869,743,653,593,551,517,491"


def _run(*args: str) -> tuple[int, str, str]:
    # Wide enough that an error naming a long temporary path is not wrapped mid-phrase.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_retention_fit_json() -> None:
    code, out, err = _run("retention", "fit", "--survivors", HIGH_END, "--periods", "10", "--json")
    assert code == 0, err
    data = json.loads(out)
    # Fader & Hardie (2007), "How to Project Customer Retention": the high-end cohort.
    assert (round(data["alpha"], 3), round(data["beta"], 3)) == (0.668, 3.806)
    assert len(data["projection"]) == 10
    assert data["projection"][0]["observed_survivors"] == 869
    assert data["projection"][9]["observed_survivors"] is None


def test_retention_fit_table_and_errors() -> None:
    code, out, _ = _run("retention", "fit", "--survivors", HIGH_END)
    assert code == 0
    assert "alpha = 0.6681" in out
    assert "Projected retention" in out
    code, _, err = _run("retention", "fit", "--survivors", "1000,x")
    assert code == 2
    assert "whole numbers" in err
    code, _, err = _run("retention", "fit", "--survivors", "1000,900,950")
    assert code == 2
    assert "more than the period before" in err


def _transactions(tmp_path: Path) -> Path:
    path = tmp_path / "tx.csv"
    cdnow_transactions(400).to_csv(path, index=False)
    return path


CLV_ARGS = (
    "--customer",
    "msisdn",
    "--date",
    "paid_at",
    "--value",
    "amount",
    "--observation-end",
    "2024-12-31",
    "--period-days",
    "7",
)


def test_clv_fit_json_and_table(tmp_path: Path) -> None:
    path = _transactions(tmp_path)
    code, out, err = _run("clv", "fit", "--transactions", str(path), *CLV_ARGS, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["purchases"]["customers"] == 400
    assert data["purchases"]["converged"]
    assert data["spend"]["converged"]
    assert len(data["customers"]) == 400
    assert data["customers"][0]["clv"] >= data["customers"][-1]["clv"]
    assert {"customer", "expected_purchases", "probability_alive", "clv"} <= data["customers"][
        0
    ].keys()
    parquet = tmp_path / "tx.parquet"
    pd.read_csv(path).to_parquet(parquet)
    code, out, err = _run("clv", "fit", "--transactions", str(parquet), *CLV_ARGS, "--top", "5")
    assert code == 0, err
    assert "Top 5 customers by CLV" in out
    assert data["customers"][0]["customer"] in out


def test_clv_fit_names_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("msisdn,paid_at,amount\na,2024-01-01,5\nb,not-a-date,5\nc,2024-01-02,\n")
    code, _, err = _run("clv", "fit", "--transactions", str(path), *CLV_ARGS)
    assert code == 2
    assert "bad.csv" in err
    assert "row=3, column=paid_at" in err
    assert "row=4, column=amount" in err
    code, _, err = _run(
        "clv",
        "fit",
        "--transactions",
        str(path),
        *CLV_ARGS[:-6],
        "--value",
        "price",
        *CLV_ARGS[-4:],
    )
    assert code == 2
    assert "no column price" in err
    code, _, err = _run("clv", "fit", "--transactions", str(tmp_path / "none.csv"), *CLV_ARGS)
    assert code == 2
    assert "none.csv" in err
