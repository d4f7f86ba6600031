"""The churn model matrix: fixed column order, plan families coded, NULL as NaN."""

from __future__ import annotations

import math

import pyarrow as pa

from telmark.analysis.churn.features import FEATURES, PLAN_FAMILIES
from telmark.analysis.churn.service import feature_matrix


def _row(**values: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(FEATURES, 1)
    row.update(values)
    return row


def test_matrix_columns_follow_features_and_code_plan_families() -> None:
    rows = [
        _row(plan_family="4g_plan", days_to_contract_end=None, tenure_months=12.5),
        _row(plan_family="satellite", data_change=None),  # a family the model never saw
        _row(plan_family=None),
    ]
    table = pa.Table.from_pylist(rows)
    matrix = feature_matrix(table)
    assert matrix.shape == (3, len(FEATURES))
    family = FEATURES.index("plan_family")
    assert matrix[0, family] == PLAN_FAMILIES.index("4g_plan")
    assert math.isnan(matrix[1, family])
    assert math.isnan(matrix[2, family])
    assert math.isnan(matrix[0, FEATURES.index("days_to_contract_end")])
    assert math.isnan(matrix[1, FEATURES.index("data_change")])
    assert matrix[0, FEATURES.index("tenure_months")] == 12.5
    # Integer columns with NULLs come through as floats, not as an error.
    assert matrix[1, FEATURES.index("days_to_contract_end")] == 1.0


def test_an_empty_batch_has_no_rows() -> None:
    empty = pa.Table.from_pylist([_row(plan_family="5g_plan")]).slice(0, 0)
    assert feature_matrix(empty).shape == (0, len(FEATURES))
