"""``telmark evaluate file``: A/B/n files (CSV in UTF-8 or GBK, Parquet) through DuckDB.

Several arms, string and 0/1 outcomes, a value column with blanks, and every documented
error: each names the file, and the row and column where there is one. The per-arm counts
are checked against pandas on the same rows.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from telmark.cli import app
from telmark.errors import InvalidInput
from telmark.evaluation import service
from telmark.evaluation.experiment import ExperimentFileRejected
from telmark.evaluation.schemas import ExperimentRead

WORDS_ONE = ["1", "yes", "是", "TRUE", " y "]
WORDS_ZERO = ["0", "no", "否", "false", "N"]


def experiment_frame(rows: int = 3000, seed: int = 3) -> pd.DataFrame:
    """Three arms (control, A, B), a 0/1 and a word outcome with blanks, and a revenue."""
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "A", "B"], size=rows, p=[0.4, 0.3, 0.3])
    rate = np.select([arm == "A", arm == "B"], [0.12, 0.08], 0.06)
    took = rng.random(rows) < rate
    bought = took & (rng.random(rows) < 0.5)
    words = np.where(
        bought, rng.choice(WORDS_ONE, size=rows), rng.choice(WORDS_ZERO, size=rows)
    ).astype(object)
    words[rng.random(rows) < 0.05] = ""  # unknown outcomes
    revenue = np.round(rng.gamma(1.5, 20.0, size=rows) + 15 * took, 2).astype(object)
    revenue[rng.random(rows) < 0.1] = ""
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "arm": arm,
            "took": took.astype(int),
            "bought": words,
            "revenue": revenue,
        }
    )


def _numbers(column: pd.Series) -> pd.Series:
    """The value column as pandas reads it: blanks are NaN."""
    return pd.to_numeric(column.map(lambda v: np.nan if v == "" else v))


def _evaluate(path: Path, **kwargs: object) -> ExperimentRead:
    options: dict[str, object] = {
        "arm": "arm",
        "control": "control",
        "outcomes": ["took", "bought"],
        "value": "revenue",
    }
    options.update(kwargs)
    return service.evaluate_file(path=path, **options)  # type: ignore[arg-type]


def test_a_csv_with_three_arms_word_and_numeric_outcomes_and_blanks(tmp_path: Path) -> None:
    frame = experiment_frame()
    path = tmp_path / "exp.csv"
    frame.to_csv(path, index=False)
    result = _evaluate(path)
    assert result.treatments == ["A", "B"]
    assert result.customers == len(frame)
    took, bought = result.outcomes
    for arm in took.arms:
        rows = frame[frame.arm == arm.label]
        assert arm.customers == len(rows)
        assert arm.successes == int(rows.took.sum())
        assert arm.missing == 0
        assert arm.rate == pytest.approx(rows.took.mean())
    for arm in bought.arms:
        rows = frame[frame.arm == arm.label]
        known = rows[rows.bought.str.strip() != ""]
        assert arm.missing == len(rows) - len(known)
        assert arm.known == len(known)
        ones = known.bought.str.strip().str.lower().isin(["1", "yes", "是", "true", "y"])
        assert arm.successes == int(ones.sum())
    a_vs_control = took.comparisons[0]
    assert a_vs_control.arm == "A"
    assert a_vs_control.uplift is not None
    assert a_vs_control.uplift_low is not None
    assert a_vs_control.uplift_low > 0  # 12 % against 6 % on ~900 customers each
    assert a_vs_control.significant
    assert result.value is not None
    values = _numbers(frame.revenue)
    for value_arm in result.value.arms:
        mask = frame.arm == value_arm.label
        assert value_arm.missing == int(values[mask].isna().sum())
        assert value_arm.mean == pytest.approx(values[mask].mean())
    control_mean = values[frame.arm == "control"].mean()
    per_customer = result.value.comparisons[0].per_customer
    assert per_customer == pytest.approx(values[frame.arm == "A"].mean() - control_mean)


def test_parquet_with_typed_columns_gives_the_same_result_as_csv(tmp_path: Path) -> None:
    frame = experiment_frame(rows=2000, seed=8)
    csv_path = tmp_path / "exp.csv"
    frame.to_csv(csv_path, index=False)
    typed = frame.assign(took=frame.took.astype(bool), revenue=_numbers(frame.revenue))
    parquet_path = tmp_path / "exp.parquet"
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), parquet_path)
    from_csv, from_parquet = _evaluate(csv_path), _evaluate(parquet_path)
    assert from_parquet.outcomes == from_csv.outcomes
    assert from_parquet.value is not None
    assert from_csv.value is not None
    assert [a.count for a in from_parquet.value.arms] == [a.count for a in from_csv.value.arms]
    parquet_means = [a.mean for a in from_parquet.value.arms]
    assert parquet_means == pytest.approx([a.mean for a in from_csv.value.arms])


def test_gbk_csv_with_chinese_labels(tmp_path: Path) -> None:
    path = tmp_path / "实验.csv"
    lines = ["组别,办理"] + ["对照组,否"] * 50 + ["对照组,是"] * 5 + ["优惠组,是"] * 12
    lines += ["优惠组,否"] * 40
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    result = service.evaluate_file(path=path, arm="组别", control="对照组", outcomes=["办理"])
    control, treated = result.outcomes[0].arms
    assert (control.label, control.successes, control.known) == ("对照组", 5, 55)
    assert (treated.label, treated.successes, treated.known) == ("优惠组", 12, 52)


def test_numeric_arm_labels_and_zero_one_parquet_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    table = pa.table(
        {
            "group": pa.array([0, 0, 0, 1, 1, 2, 2, 2], pa.int64()),
            "o": pa.array([0, 1, None, 1, 1, 0, 0, 1], pa.int8()),
            "f": pa.array([0.0, 1.0, 1.0, float("nan"), 0.0, 1.0, 1.0, 1.0]),
        }
    )
    pq.write_table(table, path)
    result = service.evaluate_file(path=path, arm="group", control="0", outcomes=["o", "f"])
    assert result.treatments == ["1", "2"]
    o, f = result.outcomes
    assert [(a.successes, a.known, a.missing) for a in o.arms] == [(1, 2, 1), (2, 2, 0), (1, 3, 0)]
    assert [(a.successes, a.known, a.missing) for a in f.arms] == [(2, 3, 0), (0, 1, 1), (3, 3, 0)]


def _rejected(path: Path, **kwargs: object) -> ExperimentFileRejected:
    with pytest.raises(ExperimentFileRejected) as error:
        _evaluate(path, **kwargs)
    return error.value


def test_unknown_outcome_words_name_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    path.write_text(
        "arm,took,bought,revenue\ncontrol,1,是,1\nA,0,maybe,2\nA,1,否,3\nB,2,yes,x\n",
        encoding="utf-8",
    )
    error = _rejected(path)
    assert error.total == 3
    assert [(p.row, p.column, p.value) for p in error.problems] == [
        (3, "bought", "maybe"),
        (5, "took", "2"),
        (5, "revenue", "x"),
    ]
    assert "exp.csv" in error.message
    assert "nothing was evaluated" in error.message
    assert all(p.file == str(path) for p in error.problems)
    assert "not a number" in error.problems[2].reason


def test_a_missing_column_is_a_header_problem(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    path.write_text("arm,took\ncontrol,1\nA,0\n", encoding="utf-8")
    error = _rejected(path)
    assert [(p.row, p.column) for p in error.problems] == [
        ("header", "bought"),
        ("header", "revenue"),
    ]
    assert "arm, took" in error.problems[0].reason


def test_a_missing_column_in_parquet_too(tmp_path: Path) -> None:
    path = tmp_path / "exp.parquet"
    pq.write_table(pa.table({"arm": ["control", "A"], "took": [1, 0]}), path)
    error = _rejected(path, outcomes=["took"], value="spend")
    assert [(p.row, p.column) for p in error.problems] == [("header", "spend")]


def test_a_blank_arm_is_an_error_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    path.write_text("arm,took\ncontrol,1\n  ,0\nA,1\n", encoding="utf-8")
    error = _rejected(path, outcomes=["took"], value=None)
    assert [(p.row, p.column) for p in error.problems] == [(3, "arm")]


def test_rows_with_the_wrong_number_of_fields(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    path.write_text("arm,took\ncontrol,1\nA,0,9\nA,1\n", encoding="utf-8")
    error = _rejected(path, outcomes=["took"], value=None)
    assert [p.row for p in error.problems] == [3]
    assert "has 3 fields" in error.problems[0].reason


def test_an_absent_control_label(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    path.write_text("arm,took\nA,1\nB,0\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="control label 'control' does not occur"):
        _evaluate(path, outcomes=["took"], value=None)


def test_fewer_than_two_arms(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    path.write_text("arm,took\ncontrol,1\ncontrol,0\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="at least one treatment arm"):
        _evaluate(path, outcomes=["took"], value=None)


def test_a_customer_id_taken_for_the_arm_column(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    experiment_frame(rows=500).to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="is it the arm column"):
        _evaluate(path, arm="customer_id", control="1", outcomes=["took"], value=None)


def test_non_numeric_value_in_a_parquet_text_column(tmp_path: Path) -> None:
    path = tmp_path / "exp.parquet"
    pq.write_table(
        pa.table({"arm": ["control", "A", "A"], "took": [1, 0, 1], "v": ["1.5", "", "inf"]}), path
    )
    error = _rejected(path, outcomes=["took"], value="v")
    assert [(p.row, p.column, p.value) for p in error.problems] == [(3, "v", "inf")]


def test_a_date_column_cannot_be_an_outcome(tmp_path: Path) -> None:
    path = tmp_path / "exp.parquet"
    dates = pa.array([date(2026, 1, 1), date(2026, 1, 2)], pa.date32())
    pq.write_table(pa.table({"arm": ["control", "A"], "d": dates}), path)
    error = _rejected(path, outcomes=["d"], value=None)
    assert error.problems[0].column == "d"
    assert "outcome column must hold" in error.problems[0].reason


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput, match="empty"):
        _evaluate(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("arm,took,bought,revenue\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no data rows"):
        _evaluate(header_only)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        _evaluate(broken)
    with pytest.raises(InvalidInput, match="no such file"):
        _evaluate(tmp_path / "absent.csv")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_the_command_prints_tables_and_json(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    experiment_frame(rows=1500).to_csv(path, index=False)
    args = ["evaluate", "file", str(path), "--arm", "arm", "--control", "control"]
    args += ["--outcome", "took", "--outcome", "bought", "--value", "revenue"]
    code, out, err = _run(*args, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["treatments"] == ["A", "B"]
    assert [o["outcome"] for o in data["outcomes"]] == ["took", "bought"]
    assert data["methods"]["uplift_interval"].startswith("Newcombe")
    code, out, err = _run(*args)
    assert code == 0, err
    assert "took: each arm against control" in out
    assert "revenue: incremental value against control" in out


def test_the_command_reports_problems_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "exp.csv"
    path.write_text("arm,took\ncontrol,1\nA,perhaps\n", encoding="utf-8")
    code, _, err = _run(
        "evaluate", "file", str(path), "--arm", "arm", "--control", "control", "--outcome", "took"
    )
    assert code == 2
    assert "1 problem found" in err
    assert "row=3, column=took, value=perhaps" in err


def test_the_calculator_commands() -> None:
    code, out, _ = _run(
        "evaluate", "mde", "--base-rate", "0.02", "--treatment", "3000", "--control", "3000"
    )
    assert code == 0
    assert "this test can detect ≥ 1.14 points" in out
    code, out, _ = _run("evaluate", "sample-size", "--base-rate", "0.02", "--uplift", "0.005")
    assert code == 0
    assert "13,768 treatment and 13,768 control customers" in out
    code, out, _ = _run(
        "evaluate", "sample-size", "--base-rate", "0.02", "--uplift", "0.005", "--json"
    )
    assert json.loads(out)["n_control"] == 13_768
    code, _, err = _run("evaluate", "sample-size", "--base-rate", "2", "--uplift", "0.005")
    assert code == 2
    assert "base-rate" in err
