"""The customer-value expressions on PySpark give what they give on DuckDB."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from ibis.backends import BaseBackend

from telmark.analysis.value import cohorts, decay, rfm, service
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from tests.spark.test_import_spark import PYSPARK_SOCKETS

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings(PYSPARK_SOCKETS)]


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key, ignore_index=True)


def test_rfm_decay_and_cohorts_on_spark_equal_duckdb(
    spark_con: BaseBackend, tmp_path: Path
) -> None:
    province = tmp_path / "province"
    generate_province(
        out_dir=province, subscribers=2_000, months=6, seed=21, end_month=date(2026, 6, 1)
    )
    duck = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    load_directory(con=duck, directory=province)
    load_directory(con=spark_con, directory=province)

    as_of = rfm.as_of_month(duck)
    assert as_of is not None
    assert as_of == rfm.as_of_month(spark_con) == date(2026, 6, 1)
    window = rfm.window_months(duck, as_of=as_of)
    assert window == rfm.window_months(spark_con, as_of=as_of) == 6

    def scores(con: BaseBackend) -> pd.DataFrame:
        table = rfm.rfm_scores(con, as_of=as_of, window=window, total=2_000)
        table = table.mutate(
            decayed=decay.decayed_value_expr(
                table.monetary_fen, table.recency_months, half_life_months=3
            )
        )
        return _sorted(table.to_pyarrow().to_pandas(), ["subscriber_id"])

    on_duckdb, on_spark = scores(duck), scores(spark_con)
    assert len(on_duckdb) == 2_000
    assert on_duckdb["value_tier"].nunique() == 4
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_dtype=False)

    def flows(con: BaseBackend) -> pd.DataFrame:
        frame = cohorts.contract_flows(con).to_pyarrow().to_pandas()
        return _sorted(frame.fillna(-1), ["join_idx", "exit_idx"])

    pd.testing.assert_frame_equal(flows(spark_con), flows(duck), check_dtype=False)


def test_the_whole_refresh_runs_on_spark(spark_con: BaseBackend, tmp_path: Path) -> None:
    province = tmp_path / "province"
    generate_province(
        out_dir=province, subscribers=1_000, months=3, seed=22, end_month=date(2026, 6, 1)
    )
    duck = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    load_directory(con=duck, directory=province)
    load_directory(con=spark_con, directory=province)
    on_duckdb = service.refresh_customer_value(con=duck)
    on_spark = service.refresh_customer_value(con=spark_con)
    assert on_spark.tiers == on_duckdb.tiers
    columns = ["subscriber_id", "value_tier", "decayed_value_fen", "clv_fen", "clv_model"]
    table_duck = duck.table("customer_value").select(*columns).to_pyarrow().to_pandas()
    table_spark = spark_con.table("customer_value").select(*columns).to_pyarrow().to_pandas()
    pd.testing.assert_frame_equal(
        _sorted(table_spark, ["subscriber_id"]),
        _sorted(table_duck, ["subscriber_id"]),
        check_dtype=False,
    )
