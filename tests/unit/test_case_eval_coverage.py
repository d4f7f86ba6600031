"""The uplift's 95 % interval covers the generator's true uplift in about 95 % of cases.

Simulated cases assign subscribers to treatment and control with targeting's keyed holdout
hash and draw take-up from known rates, so the true uplift is known. Two checks:

- **the full path**: 400 simulated cases stacked in one exposure table (the case is the
  ``city_id`` key), aggregated by ``service.measure_tables`` (Ibis on DuckDB) and evaluated
  per key by ``domain.evaluate_breakdown`` — exactly what a case's city breakdown does;
- **the interval itself, many times**: 4,000 simulated cases at small rates through
  ``stats.newcombe_difference``, the function ``compare_rates`` (and so every case
  evaluation) computes the interval with, vectorised.

With 400 repetitions the coverage's standard error is about 1.1 points, with 4,000 about
0.35: either tells 95 % from 80 % (or from 90 %) beyond doubt. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from telmark.evaluation import stats
from telmark.evaluation.cases import domain, service
from telmark.evaluation.cases.domain import Dimension
from telmark.targeting.domain import holdout_buckets

HOLDOUT_BP = 3_000  # 30 % control


def _assign(case_id: int, subscribers: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """True where the subscriber is in the case's control group (targeting's keyed hash)."""
    return holdout_buckets("coverage", case_id, subscribers) < HOLDOUT_BP


def _stacked_cases(
    cases: int, size: int, rng: np.random.Generator
) -> tuple[pa.Table, pa.Table, npt.NDArray[np.float64]]:
    """Exposures and take-up attributions of ``cases`` simulated cases, and each true uplift."""
    base = rng.uniform(0.02, 0.10, cases)
    uplift = rng.uniform(0.0, 0.05, cases)
    ids = np.arange(1, size + 1, dtype=np.int64)
    subscriber, group, key, took = [], [], [], []
    for case in range(cases):
        control = _assign(case + 1, ids)
        rate = np.where(control, base[case], base[case] + uplift[case])
        subscriber.append(ids + case * size)  # distinct subscribers per simulated case
        group.append(np.where(control, "control", "treatment"))
        key.append(np.full(size, f"case{case:04d}"))
        took.append(rng.random(size) < rate)
    subscriber_ids, groups = np.concatenate(subscriber), np.concatenate(group)
    keys, responded = np.concatenate(key), np.concatenate(took)
    n = len(subscriber_ids)
    kind = np.where(groups == "control", "control", "outbox")
    exposures = pa.table(
        {"subscriber_id": subscriber_ids, "group": groups, "kind": kind,
         "channel": np.full(n, "sms"), "offer_code": np.full(n, "X"), "city_id": keys},
        schema=service.EXPOSURE_SCHEMA,
    )  # fmt: skip
    m = int(responded.sum())
    attributions = pa.table(
        {"subscriber_id": subscriber_ids[responded], "group": groups[responded],
         "type": np.full(m, "offer_accepted"), "revenue_fen": np.zeros(m, dtype=np.int64),
         "channel": np.full(m, "sms"), "offer_code": np.full(m, "X"),
         "city_id": keys[responded], "day": rng.integers(0, 30, m)},
        schema=service.ATTRIBUTION_SCHEMA,
    )  # fmt: skip
    return exposures, attributions, uplift


def test_the_case_evaluation_interval_covers_the_true_uplift() -> None:
    rng = np.random.default_rng(20261203)
    exposures, attributions, truth = _stacked_cases(400, 1_500, rng)
    measured = service.measure_tables(exposures, attributions, dimensions=[Dimension.CITY])
    cells = measured.breakdowns[Dimension.CITY]
    assert len(cells) == 400
    breakdown = domain.evaluate_breakdown(Dimension.CITY, cells, pricing=None, horizon_months=12)
    low = np.array([c.comparison.uplift_low for c in breakdown.cells], dtype=np.float64)
    high = np.array([c.comparison.uplift_high for c in breakdown.cells], dtype=np.float64)
    covered = float(np.mean((low <= truth) & (truth <= high)))
    assert 0.92 <= covered <= 0.98, covered
    # The counts are the simulation's own: the treated and controls add up to every subscriber.
    assert sum(c.treatment.customers + c.control.customers for c in breakdown.cells) == 600_000


def test_the_interval_covers_at_small_rates_over_many_cases() -> None:
    rng = np.random.default_rng(7)
    cases, size = 4_000, 4_000
    base = rng.uniform(0.005, 0.05, cases)
    uplift = rng.uniform(0.0, 0.02, cases)
    ids = np.arange(1, size + 1, dtype=np.int64)
    # The holdout hash gives each case its own split; the counts per arm are binomial draws.
    n_control = np.array([int(_assign(c + 1, ids).sum()) for c in range(cases)])
    n_treatment = size - n_control
    x_control = rng.binomial(n_control, base)
    x_treatment = rng.binomial(n_treatment, base + uplift)
    _, low, high = stats.newcombe_difference(x_treatment, n_treatment, x_control, n_control)
    covered = float(np.mean((low <= uplift) & (uplift <= high)))
    assert 0.935 <= covered <= 0.965, covered
