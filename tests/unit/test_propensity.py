"""The general propensity trainer on an arbitrary mixed-type CSV with blanks."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from telmark.analysis.cli import app
from telmark.analysis.propensity import PropensityReport, read_table, train_propensity
from telmark.analysis.propensity.domain import detect, parse_label
from telmark.errors import InvalidInput
from tests._factories.propensity import labelled_customers


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return labelled_customers()


@pytest.fixture(scope="module")
def report(customers: pd.DataFrame) -> PropensityReport:
    return train_propensity(data=customers, label="churned", id_column="customer_id")


def test_learns_the_label_and_beats_the_best_single_feature(report: PropensityReport) -> None:
    assert report.auc > 0.72
    assert report.baseline_feature is not None
    assert report.baseline_auc > 0.55
    assert report.auc > report.baseline_auc + 0.03
    assert report.rows == report.labelled_rows == 3000
    assert report.train_rows + report.holdout_rows == 3000
    # Stratified: the holdout's positive share matches the whole table's.
    assert report.holdout_positives / report.holdout_rows == pytest.approx(
        report.positives / report.rows, abs=0.01
    )


def test_features_are_detected_by_type(report: PropensityReport) -> None:
    kinds = {f.column: f.kind for f in report.features}
    assert kinds == {
        "city": "categorical",
        "plan": "categorical",
        "tenure_months": "numeric",
        "complaints": "numeric",
        "arpu": "numeric",
        "has_5g": "boolean",
        "signup_date": "date",
        "noise": "numeric",
        "lucky_number": "numeric",
        "phone": "dropped",
    }


def test_top_features_are_the_ones_the_label_depends_on(report: PropensityReport) -> None:
    top3 = {f.feature for f in report.top_features[:3]}
    assert top3 == {"complaints", "tenure_months", "city"}
    noise = {f.feature: f.importance for f in report.top_features}
    assert noise.get("noise", 0.0) < 0.01


def test_lift_is_a_ranking_of_the_holdout(report: PropensityReport) -> None:
    assert [d.decile for d in report.lift] == list(range(1, 11))
    assert sum(d.rows for d in report.lift) == report.holdout_rows
    assert sum(d.positives for d in report.lift) == report.holdout_positives
    assert report.lift[0].lift > 2.0
    assert report.lift[-1].cumulative_gain == pytest.approx(1.0)
    gains = [d.cumulative_gain for d in report.lift]
    assert gains == sorted(gains)
    assert all(a.min_score >= b.max_score for a, b in itertools.pairwise(report.lift))


def test_every_row_gets_a_calibrated_probability(
    report: PropensityReport, customers: pd.DataFrame
) -> None:
    assert [s.id for s in report.scores] == customers["customer_id"].tolist()
    scores = np.array([s.score for s in report.scores])
    assert ((scores > 0) & (scores < 1)).all()
    # Calibrated: the mean probability is close to the positive rate.
    assert scores.mean() == pytest.approx(report.positives / report.rows, abs=0.03)
    assert report.calibration == "sigmoid"  # 2,250 training rows: below the isotonic threshold


def test_same_seed_same_report_other_seed_other_split() -> None:
    small = labelled_customers(rows=1200, seed=3)
    first = train_propensity(data=small, label="churned", id_column="customer_id", seed=5)
    again = train_propensity(data=small, label="churned", id_column="customer_id", seed=5)
    other = train_propensity(data=small, label="churned", id_column="customer_id", seed=6)
    assert first == again
    assert other.scores != first.scores


def test_unlabelled_rows_are_scored_but_not_trained_on() -> None:
    frame = labelled_customers(rows=1200, seed=4)
    frame.loc[:99, "churned"] = ""
    report = train_propensity(data=frame, label="churned", id_column="customer_id")
    assert report.rows == 1200
    assert report.labelled_rows == 1100
    assert report.train_rows + report.holdout_rows == 1100
    assert len(report.scores) == 1200


def test_arrow_tables_with_typed_columns_are_accepted() -> None:
    frame = labelled_customers(rows=1200, seed=8)
    table = pa.table(
        {
            "id": pa.array(range(1200), pa.int64()),
            "tenure": pa.array(pd.to_numeric(frame["tenure_months"]).astype("Int64")),
            "complaints": pa.array(frame["complaints"].astype(int)),
            "has_5g": pa.array([v == "true" if v else None for v in frame["has_5g"]]),
            "signup": pa.array(
                [pd.Timestamp(v).date() if v else None for v in frame["signup_date"]], pa.date32()
            ),
            "city": pa.array(frame["city"]),
            "label": pa.array(frame["churned"] == "yes"),
        }
    )
    report = train_propensity(data=table, label="label", id_column="id")
    kinds = {f.column: f.kind for f in report.features}
    assert kinds == {
        "tenure": "numeric",
        "complaints": "numeric",
        "has_5g": "boolean",
        "signup": "date",
        "city": "categorical",
    }
    assert report.auc > 0.65
    assert report.scores[0].id == "0"


# --- label and input validation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "0", "1.0", "0.0"], [1, 0, 1, 0]),
        (["true", "False", "T", "f"], [1, 0, 1, 0]),
        (["yes", "No", "Y", "n"], [1, 0, 1, 0]),
        (["是", "否", " 是 ", "否"], [1, 0, 1, 0]),
        ([True, False, 1, 0.0], [1, 0, 1, 0]),
    ],
)
def test_binary_spellings_are_accepted(values: list[object], expected: list[int]) -> None:
    series = pd.Series(values * 20, dtype=object)
    assert parse_label(series, "y").tolist() == expected * 20


def test_a_non_binary_label_names_the_column_and_values() -> None:
    series = pd.Series(["yes", "no", "maybe", "2"] * 30)
    with pytest.raises(InvalidInput, match=r"'outcome'.*'2', 'maybe'") as info:
        parse_label(series, "outcome")
    assert info.value.details == [{"column": "outcome", "values": ["2", "maybe"]}]


def test_too_few_positives_is_refused() -> None:
    frame = labelled_customers(rows=600)
    frame["churned"] = ["yes" if i < 10 else "no" for i in range(600)]
    with pytest.raises(InvalidInput, match="10 positive and 590 negative"):
        train_propensity(data=frame, label="churned", id_column="customer_id")


@pytest.mark.parametrize(
    ("label", "id_column", "message"),
    [
        ("nope", "customer_id", "label column 'nope' is not in the data"),
        ("churned", "nope", "id column 'nope' is not in the data"),
        ("churned", "churned", "different columns"),
        ("churned", "city", "id column 'city' has"),
    ],
)
def test_missing_or_unusable_columns_are_named(label: str, id_column: str, message: str) -> None:
    frame = labelled_customers(rows=300)
    with pytest.raises(InvalidInput, match=message):
        train_propensity(data=frame, label=label, id_column=id_column)


def test_only_identifier_columns_leave_nothing_to_learn_from() -> None:
    frame = labelled_customers(rows=400)[["customer_id", "phone", "churned"]]
    with pytest.raises(InvalidInput, match="no usable feature columns"):
        train_propensity(data=frame, label="churned", id_column="customer_id")


def test_detection_of_text_columns() -> None:
    def kind(values: list[str]) -> str:
        return detect("c", pd.Series(values * 5, dtype=object)).kind

    assert kind(["1", "2.5", "", "NA"]) == "numeric"
    assert kind(["yes", "no", ""]) == "boolean"
    assert kind(["2024/01/31", "2023/12/01", "null"]) == "date"
    assert kind(["2024-01-31 10:00:00", "2023-12-01 08:30:00"]) == "date"
    assert kind(["a", "b", "1"]) == "categorical"
    assert kind(["same", "", "same"]) == "dropped"


# --- files and CLI -----------------------------------------------------------------------


def test_csv_in_gbk_and_with_bom_reads_the_same(customers: pd.DataFrame) -> None:
    text = customers.head(50).to_csv(index=False)
    plain = read_table(text.encode("utf-8"), filename="a.csv")
    assert read_table(text.encode("gbk"), filename="a.csv").equals(plain)
    assert read_table(b"\xef\xbb\xbf" + text.encode("utf-8"), filename="a.csv").equals(plain)
    assert plain["city"].iloc[0] in {"南京", "无锡", "徐州", "苏州", "常州", ""}


def test_unreadable_files_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        read_table(b"  \n", filename="a.csv")
    with pytest.raises(InvalidInput, match="Parquet"):
        read_table(b"not parquet", filename="a.parquet")
    with pytest.raises(InvalidInput, match="duplicate"):
        read_table(b"a,a\n1,2\n", filename="a.csv")


def _cli_file(tmp_path: Path, rows: int = 1200) -> Path:
    path = tmp_path / "customers.csv"
    path.write_bytes(labelled_customers(rows=rows, seed=9).to_csv(index=False).encode("gbk"))
    return path


def test_cli_json_and_parquet_scores(tmp_path: Path) -> None:
    data, out = _cli_file(tmp_path), tmp_path / "scores.parquet"
    args = ["propensity", "train", "--data", str(data), "--label", "churned"]
    args += ["--id", "customer_id", "--seed", "2", "--json", "--scores-out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert "scores" not in body
    assert body["auc"] > 0.65
    assert body["seed"] == 2
    scores = pq.read_table(out)
    assert scores.column_names == ["customer_id", "score"]
    assert scores.num_rows == 1200


def test_cli_table_and_csv_scores(tmp_path: Path) -> None:
    data, out = _cli_file(tmp_path), tmp_path / "scores.csv"
    args = ["propensity", "train", "--data", str(data), "--label", "churned"]
    args += ["--id", "customer_id", "--scores-out", str(out)]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Holdout AUC" in result.stdout
    assert "Lift by decile" in result.stdout
    assert "Not used: phone" in result.stdout
    written = pd.read_csv(out)
    assert list(written.columns) == ["customer_id", "score"]
    assert len(written) == 1200


def test_cli_reports_a_bad_label(tmp_path: Path) -> None:
    args = ["propensity", "train", "--data", str(_cli_file(tmp_path, 300))]
    args += ["--label", "city", "--id", "customer_id"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "label column 'city' must be binary" in result.output
