"""Done-when: on generated data the uplift model's Qini beats random targeting clearly.

A randomised case is simulated on a generated province, where the truth is
known: each line is put in treatment or control 50/50 by a seeded hash of its
id, and responds with the generator's hidden probability — its
``base_propensity``, plus its ``uplift_subsidy`` when treated (the handset
subsidy: its uplift depends on handset age, 5G handset and contract end,
which the features see). The model is trained from that table exactly as
from a file (``labelled_from_file``).

Two Qini coefficients are checked on the holdout. The one the model reports
counts observed responders, so it carries the outcomes' sampling noise: the
true uplift is about 1.3 points on a 4% response rate, and on 9,000 holdout
lines random scorers spread ±0.03 around 0 (on 5,000 lines not even the true
uplift itself ranks distinguishably from random). The other counts the
*expected* incremental responders — each holdout line's true uplift — so it
measures the ranking itself: there the model must beat random scorers by far.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from telmark.analysis.uplift import domain
from telmark.analysis.uplift.features import labelled_from_file
from telmark.analysis.uplift.service import Fitted, fit_uplift
from telmark.warehouse.connection import connect
from tests._factories.churn import churn_warehouse

LINES = 30_000
OFFER = "subsidy"
SEED = 11
RANDOM_SCORERS = 200


def _treated(ids: np.ndarray, seed: int) -> np.ndarray:
    """1 for treatment, 0 for control: the low bit of a keyed hash of the id (50/50)."""
    key = seed.to_bytes(8, "little")
    return np.array(
        [hashlib.blake2b(int(i).to_bytes(8, "little"), key=key).digest()[0] & 1 for i in ids],
        dtype=np.int64,
    )


@pytest.fixture(scope="module")
def case_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes, dict[str, Any]]:
    """(warehouse URL, the simulated case as CSV, truth figures)."""
    directory = tmp_path_factory.mktemp("uplift-truth")
    url = churn_warehouse(directory, subscribers=LINES, months=2, seed=SEED)
    con = connect(url)
    try:
        truth = (
            con.table("truth_response")
            .select("subscriber_id", "base_propensity", f"uplift_{OFFER}")
            .order_by("subscriber_id")
            .to_pyarrow()
        )
    finally:
        con.disconnect()
    ids = truth.column("subscriber_id").to_numpy()
    base = truth.column("base_propensity").to_numpy()
    gain = truth.column(f"uplift_{OFFER}").to_numpy()
    treated = _treated(ids, SEED)
    rng = np.random.default_rng(SEED)
    outcome = (rng.random(len(ids)) < base + treated * gain).astype(np.int64)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.table({"subscriber_id": ids, "treated": treated, "outcome": outcome}), sink)
    return (
        url,
        sink.getvalue().to_pybytes(),
        {"mean_uplift": float(gain.mean()), "ids": ids, "uplift": gain},
    )


@pytest.fixture(scope="module")
def fitted(case_file: tuple[str, bytes, dict[str, Any]]) -> Fitted:
    url, raw, _truth = case_file
    con = connect(url)
    try:
        return fit_uplift(con=con, labelled=labelled_from_file(raw, filename="case.csv"), seed=0)
    finally:
        con.disconnect()


def test_simulated_case_is_randomised_and_shows_the_true_uplift(
    case_file: tuple[str, bytes, dict[str, Any]], fitted: Fitted
) -> None:
    _url, _raw, truth = case_file
    share = fitted.treated / fitted.rows
    assert 0.48 < share < 0.52
    # The holdout's measured uplift is the truth's mean, within sampling error.
    assert fitted.metrics.overall_uplift == pytest.approx(truth["mean_uplift"], abs=0.008)


def true_qini(true_uplift: np.ndarray, score: np.ndarray) -> float:
    """Qini coefficient of ``score`` counting each line's true uplift as its increment.

    The curve at the top ``n`` lines is the sum of their true uplifts (the
    incremental responders expected from treating them); as ``domain``'s
    coefficient, the area above random targeting's line relative to the
    perfect ranking's (by true uplift).
    """

    def area(order: np.ndarray) -> float:
        return float(np.trapezoid(np.r_[0.0, np.cumsum(true_uplift[order])]))

    random = 0.5 * len(true_uplift) * float(true_uplift.sum())
    best = area(np.argsort(-true_uplift, kind="stable")) - random
    return (area(np.argsort(-score, kind="stable")) - random) / best


def test_ranking_beats_random_targeting_clearly_against_the_truth(
    case_file: tuple[str, bytes, dict[str, Any]], fitted: Fitted
) -> None:
    truth = case_file[2]
    # ``ids`` are sorted: searchsorted finds each holdout line's truth row.
    true_uplift = truth["uplift"][np.searchsorted(truth["ids"], fitted.holdout_ids)]
    model = true_qini(true_uplift, fitted.holdout_uplift)
    rng = np.random.default_rng(1)
    random = np.array(
        [true_qini(true_uplift, rng.random(len(true_uplift))) for _ in range(RANDOM_SCORERS)]
    )
    assert abs(random.mean()) < 0.01
    assert random.max() < 0.05
    assert model > 0.25
    assert model > random.max() + 20 * random.std()


def test_reported_qini_and_auuc_beat_random_on_observed_responses(fitted: Fitted) -> None:
    y, treated = fitted.holdout_y, fitted.holdout_treated
    assert fitted.metrics.qini == domain.qini_coefficient(y, treated, fitted.holdout_uplift)
    assert fitted.metrics.auuc == domain.auuc(y, treated, fitted.holdout_uplift)
    rng = np.random.default_rng(1)
    random_qini = np.array(
        [domain.qini_coefficient(y, treated, rng.random(len(y))) for _ in range(RANDOM_SCORERS)]
    )
    # Random scorers centre on 0; the model's observed Qini lies above their typical spread.
    assert abs(random_qini.mean()) < 0.01
    assert fitted.metrics.qini > 1.5 * float(random_qini.std())
    assert fitted.metrics.auuc > 0


def test_top_fifth_by_predicted_uplift_gains_more_than_random_targeting(fitted: Fitted) -> None:
    at = {round(k.k, 2): k for k in fitted.metrics.uplift_at_k}
    overall = fitted.metrics.overall_uplift
    assert at[0.2].random == overall
    assert at[0.2].uplift > 1.5 * overall > 0
    assert at[0.1].rows < at[0.2].rows < at[0.3].rows
    # The stored curve ends where random targeting's line ends: all lines targeted.
    last = fitted.metrics.qini_curve[-1]
    assert last.share == 1.0
    assert last.model == pytest.approx(last.random)
