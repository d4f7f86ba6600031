"""customer_value on a generated province, checked against independent pandas computations."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from ibis.backends import BaseBackend

from telmark.analysis.value import customer_value, decay, rfm, service
from telmark.analysis.value.rfm import tier_for
from telmark.errors import InvalidInput, WarehouseEmpty
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from telmark.warehouse.scope import ScopedWarehouse
from tests._factories.warehouse import build_empty_warehouse

HALF_LIFE = 2.5


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> BaseBackend:
    root = tmp_path_factory.mktemp("value")
    generate_province(
        out_dir=root / "p", subscribers=2_000, months=6, seed=11, end_month=date(2026, 6, 1)
    )
    con = connect("duckdb://" + str(root / "w.duckdb"))
    load_directory(con=con, directory=root / "p")
    service.refresh_customer_value(con=con, half_life_months=HALF_LIFE)
    return con


def _frame(con: BaseBackend, table: str) -> pd.DataFrame:
    frame: pd.DataFrame = con.table(table).to_pyarrow().to_pandas()
    return frame


def _index(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, utc=True) if values.dtype == object else values
    stamps = pd.to_datetime(stamps)
    return stamps.dt.year * 12 + stamps.dt.month - 1


def expected_rfm(con: BaseBackend) -> pd.DataFrame:
    """The documented scoring, done again in pandas from the raw tables."""
    subs = _frame(con, "subscribers")
    usage = _frame(con, "usage_monthly")
    recharges = _frame(con, "recharges")
    orders = _frame(con, "orders")
    usage["idx"] = _index(usage["month"])
    end = int(usage["idx"].max())
    start = end - 5
    window = usage.loc[usage["idx"] >= start, "idx"].nunique()
    events = pd.concat(
        [
            usage.loc[usage["arpu_fen"] > 0, ["subscriber_id", "idx"]],
            recharges.assign(idx=_index(recharges["recharged_at"]))[["subscriber_id", "idx"]],
            orders.loc[orders["action"] != "cancel"].assign(idx=_index(orders["ordered_at"]))[
                ["subscriber_id", "idx"]
            ],
        ]
    )
    events = events[events["idx"] <= end]
    last = events.groupby("subscriber_id")["idx"].max()
    freq = events[events["idx"] >= start].groupby("subscriber_id").size()
    revenue = (
        usage[(usage["idx"] >= start) & (usage["idx"] <= end)]
        .groupby("subscriber_id")["arpu_fen"]
        .sum()
    )
    out = pd.DataFrame({"subscriber_id": subs["subscriber_id"]}).set_index("subscriber_id")
    join_idx = pd.Series(_index(subs["join_date"]).to_numpy(), index=subs["subscriber_id"])
    last_active = last.reindex(out.index).fillna(join_idx).astype(int)
    out["recency_months"] = (end - last_active).clip(lower=0)
    out["frequency"] = freq.reindex(out.index).fillna(0).astype(int)
    total = revenue.reindex(out.index).fillna(0).astype(int)
    out["monetary_fen"] = (2 * total + window) // (2 * window)
    n = len(out)

    def score(values: pd.Series, *, lower_is_better: bool) -> pd.Series:
        ordered = np.sort(values.to_numpy())
        if lower_is_better:  # lines with a recency at least as long
            no_better = n - np.searchsorted(ordered, values.to_numpy(), side="left")
        else:  # lines with a value at most as high
            no_better = np.searchsorted(ordered, values.to_numpy(), side="right")
        return pd.Series([math.ceil(5 * c / n) for c in no_better], index=values.index)

    out["r_score"] = score(out["recency_months"], lower_is_better=True)
    out["f_score"] = score(out["frequency"], lower_is_better=False)
    out["m_score"] = score(out["monetary_fen"], lower_is_better=False)
    out["rfm_score"] = out["r_score"] + out["f_score"] + out["m_score"]
    out["value_tier"] = [
        str(tier_for(s, f)) for s, f in zip(out["rfm_score"], out["frequency"], strict=True)
    ]
    out["decayed_value_fen"] = [
        decay.decayed_value(m, r, half_life_months=HALF_LIFE)
        for m, r in zip(out["monetary_fen"], out["recency_months"], strict=True)
    ]
    return out.sort_index()


def test_rfm_tiers_and_decay_match_an_independent_computation(province: BaseBackend) -> None:
    got = _frame(province, "customer_value").set_index("subscriber_id").sort_index()
    want = expected_rfm(province)
    columns = list(want.columns)
    pd.testing.assert_frame_equal(
        got[columns].astype({c: "int64" for c in columns if c != "value_tier"}),
        want.astype({c: "int64" for c in columns if c != "value_tier"}),
        check_dtype=False,
    )
    assert (got["as_of_month"] == date(2026, 6, 1)).all()
    # Every tier is used on a real province, and quintiles spread the monetary scores.
    assert set(got["value_tier"]) == {"vip", "gold", "star", "non_member"}
    assert got["m_score"].value_counts().min() > len(got) * 0.15


def test_the_table_has_the_documented_columns(province: BaseBackend) -> None:
    schema = province.table("customer_value").schema()
    assert [(name, str(dtype).lower()) for name, dtype in schema.items()] == [
        (name, kind if name not in ("clv_fen", "clv_model") else kind)
        for name, kind in customer_value.COLUMNS
    ]
    assert province.table("customer_value").count().to_pyarrow().as_py() == 2_000


def test_cohort_survivors_match_independent_counts(province: BaseBackend) -> None:
    read = service.retention_cohorts(con=province, cohort_months=24)
    subs = _frame(province, "subscribers")
    contract = subs[subs["contract_end"].notna()].copy()
    contract["join_idx"] = _index(contract["join_date"])
    gone = contract["status"].isin(["ported_out", "terminated"])
    contract["exit_idx"] = np.where(gone, _index(contract["status_date"]), np.nan)
    assert len(read.cohorts) == 24
    assert read.pooled is not None
    assert sum(c.survivors[0] for c in read.cohorts) > 0
    for cohort in read.cohorts:
        j = rfm.index_of(cohort.join_month)
        members = contract[contract["join_idx"] == j]
        want = [
            int((~(members["exit_idx"] <= j + t - 1)).sum())
            for t in range(cohort.first_period, cohort.first_period + len(cohort.survivors))
        ]
        assert list(cohort.survivors) == want, cohort.join_month
    churned = [c for c in read.cohorts if c.survivors[-1] < c.survivors[0]]
    assert churned, "the generator should make some contract lines leave"


def test_lifetime_values_are_sane(province: BaseBackend) -> None:
    value = _frame(province, "customer_value").set_index("subscriber_id")
    subs = _frame(province, "subscribers").set_index("subscriber_id")
    both = value.join(subs[["contract_end", "payment_type", "status"]])
    contract = both["contract_end"].notna()
    gone = both["status"].isin(["ported_out", "terminated"])
    prepaid = (both["payment_type"] == "prepaid") & ~contract
    assert (both.loc[contract, "clv_model"] == "sbg").all()
    assert (both.loc[prepaid & ~gone, "clv_model"].isin(["bgnbd_gg", None])).all()
    assert both.loc[~contract & ~prepaid, "clv_model"].isna().all()
    assert both.loc[~contract & ~prepaid, "clv_fen"].isna().all()
    assert (both.loc[gone & both["clv_model"].notna(), "clv_fen"] == 0).all()
    live = both[contract & ~gone]
    # 12 months of expected revenue cannot exceed 12 × the monthly revenue, and most
    # contract lines (churn ~1%/month) keep close to it.
    assert (live["clv_fen"] <= 12 * live["monetary_fen"] + 1).all()
    assert (live["clv_fen"] >= 10 * live["monetary_fen"]).mean() > 0.9
    prepaid_values = both.loc[prepaid & ~gone & both["clv_model"].notna(), "clv_fen"]
    assert len(prepaid_values) > 100
    assert (prepaid_values > 0).mean() > 0.9


def test_a_longer_horizon_and_discounting_change_clv_as_they_should(
    province: BaseBackend,
) -> None:
    def total(**options: float) -> int:
        service.refresh_customer_value(con=province, half_life_months=HALF_LIFE, **options)  # type: ignore[arg-type]
        frame = _frame(province, "customer_value")
        return int(frame["clv_fen"].fillna(0).sum())

    base = total()
    assert total(horizon=24) > base * 1.5
    assert total(discount_rate=0.02) < base
    assert total() == base  # the refresh replaces the table; it does not add to it


def test_a_city_reads_only_its_own_lines(province: BaseBackend) -> None:
    nanjing = ScopedWarehouse(province, "C01")
    ids = set(nanjing.table("customer_value").subscriber_id.to_pyarrow().to_pylist())
    home = set(nanjing.table("subscribers").subscriber_id.to_pyarrow().to_pylist())
    assert ids == home
    assert 0 < len(ids) < 2_000
    summary = service.value_summary(con=nanjing, org_code="C01")
    assert summary.subscribers == len(ids)
    assert summary.units
    assert all(u.org_id.startswith("C01") for u in summary.units)
    assert sum(t.subscribers for u in summary.units for t in u.tiers) <= len(ids)


def test_the_province_summary_adds_up(province: BaseBackend) -> None:
    summary = service.value_summary(con=province)
    assert summary.subscribers == 2_000
    assert [t.tier for t in summary.tiers] == ["vip", "gold", "star", "non_member"]
    by_city = sum(t.subscribers for u in summary.units for t in u.tiers)
    assert by_city <= 2_000
    assert {u.org_id for u in summary.units} >= {"C01", "C02"}
    assert sum(b.subscribers for b in summary.recency) == 2_000
    assert sum(b.subscribers for b in summary.clv_buckets) == sum(
        t.subscribers for t in summary.clv_totals if t.model is not None
    )


def test_bad_options_change_nothing(province: BaseBackend) -> None:
    before = _frame(province, "customer_value")
    with pytest.raises(InvalidInput, match="half-life"):
        service.refresh_customer_value(con=province, half_life_months=0)
    with pytest.raises(InvalidInput):
        service.refresh_customer_value(con=province, horizon=0)
    pd.testing.assert_frame_equal(_frame(province, "customer_value"), before)


def test_an_empty_warehouse_says_what_to_load(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = build_empty_warehouse(tmp_path_factory.mktemp("empty")).url
    con = connect(url)
    with pytest.raises(WarehouseEmpty):
        service.refresh_customer_value(con=con)
    with pytest.raises(WarehouseEmpty, match="value refresh"):
        service.value_summary(con=con)
