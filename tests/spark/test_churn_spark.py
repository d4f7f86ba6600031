"""The churn feature expressions on PySpark give the same rows as on DuckDB."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from ibis.backends import BaseBackend

from telmark.analysis.churn.features import FEATURES, LABEL, churn_features, usage_months
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by("subscriber_id")


def _assert_same(spark: pa.Table, duck: pa.Table) -> None:
    assert spark.num_rows == duck.num_rows > 0
    assert spark.column("subscriber_id").to_pylist() == duck.column("subscriber_id").to_pylist()
    for name in duck.column_names:
        ours, theirs = spark.column(name).to_pylist(), duck.column(name).to_pylist()
        if pa.types.is_floating(duck.schema.field(name).type):
            a = np.array([np.nan if v is None else v for v in ours], dtype=float)
            b = np.array([np.nan if v is None else v for v in theirs], dtype=float)
            np.testing.assert_allclose(a, b, rtol=1e-9, equal_nan=True, err_msg=name)
        else:
            assert ours == theirs, name


def test_churn_features_on_spark_equal_duckdb(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = tmp_path / "province"
    generate_province(
        out_dir=province, subscribers=3_000, months=4, seed=13, end_month=date(2026, 9, 1)
    )
    duck = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    load_directory(con=duck, directory=province)
    load_directory(con=spark_con, directory=province)
    months = usage_months(duck)
    assert usage_months(spark_con) == months

    training = {
        "con": None, "month": months[-2], "rebuild_state": True, "with_label": True,
    }  # fmt: skip
    on_duck = _sorted(churn_features(**{**training, "con": duck}).to_pyarrow())
    on_spark = _sorted(churn_features(**{**training, "con": spark_con}).to_pyarrow())
    assert on_duck.column_names == ["subscriber_id", *FEATURES, LABEL]
    _assert_same(on_spark, on_duck)
    assert sum(on_duck.column(LABEL).to_pylist()) > 0

    latest_duck = churn_features(duck, month=months[-1], rebuild_state=False, with_label=False)
    latest_spark = churn_features(
        spark_con, month=months[-1], rebuild_state=False, with_label=False
    )
    _assert_same(_sorted(latest_spark.to_pyarrow()), _sorted(latest_duck.to_pyarrow()))

    # One slice of subscriber ids (how scoring walks a large province).
    ids = (1_001, 2_000)
    sliced_duck = _sorted(churn_features(**{**training, "con": duck, "ids": ids}).to_pyarrow())
    sliced_spark = _sorted(
        churn_features(**{**training, "con": spark_con, "ids": ids}).to_pyarrow()
    )
    _assert_same(sliced_spark, sliced_duck)
    # A line's features do not depend on other lines: the slice is the full table's rows.
    in_slice = pc.and_(
        pc.greater_equal(on_duck["subscriber_id"], ids[0]),
        pc.less_equal(on_duck["subscriber_id"], ids[1]),
    )
    _assert_same(sliced_duck, on_duck.filter(in_slice))
    duck.disconnect()
