"""Pure churn rules: risk deciles and bands, lift and calibration tables, versions, artifacts."""

from __future__ import annotations

import numpy as np
import pytest

from telmark.analysis.churn import domain
from telmark.analysis.churn.domain import ModelStatus, RiskBand
from telmark.analysis.churn.features import Window, add_months
from telmark.errors import Conflict, Forbidden, InvalidInput


def test_deciles_split_lines_into_equal_tenths_with_ten_the_riskiest() -> None:
    rng = np.random.default_rng(1)
    probabilities = rng.random(1003)
    ids = np.arange(1, 1004, dtype=np.int64)
    deciles = domain.risk_deciles(probabilities, ids)
    assert sorted(set(deciles.tolist())) == list(range(1, 11))
    sizes = np.bincount(deciles)[1:]
    assert sizes.max() - sizes.min() <= 1
    # Every line of a higher decile is at least as risky as every line of a lower one.
    for d in range(1, 10):
        assert probabilities[deciles == d].max() <= probabilities[deciles == d + 1].min()
    assert deciles[np.argmax(probabilities)] == 10
    assert deciles[np.argmin(probabilities)] == 1


def test_ties_are_broken_by_subscriber_id_so_deciles_are_stable() -> None:
    probabilities = np.full(20, 0.01)
    ids = np.arange(20, 0, -1, dtype=np.int64)  # 20, 19, ..., 1
    deciles = domain.risk_deciles(probabilities, ids)
    assert deciles.tolist() == [10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    shuffled = np.random.default_rng(3).permutation(20)
    again = domain.risk_deciles(probabilities[shuffled], ids[shuffled])
    assert again.tolist() == deciles[shuffled].tolist()


def test_no_lines_no_deciles() -> None:
    assert domain.risk_deciles(np.empty(0), np.empty(0, dtype=np.int64)).size == 0


@pytest.mark.parametrize(
    ("decile", "band"),
    [(10, RiskBand.HIGH), (9, RiskBand.HIGH), (8, RiskBand.MEDIUM), (7, RiskBand.MEDIUM),
     (6, RiskBand.LOW), (1, RiskBand.LOW)],
)  # fmt: skip
def test_risk_band_cut_offs(decile: int, band: RiskBand) -> None:
    assert domain.risk_band(decile) == band
    assert domain.risk_bands(np.array([decile])).tolist() == [band.value]


@pytest.mark.parametrize("decile", [0, 11])
def test_a_decile_outside_1_to_10_is_refused(decile: int) -> None:
    with pytest.raises(InvalidInput, match="1..10"):
        domain.risk_band(decile)


def test_lift_and_gain_of_a_perfect_ranking() -> None:
    # 100 lines, the 10 positives scored highest: all found in the first tenth.
    scores = np.linspace(1.0, 0.0, 100)
    y = np.zeros(100)
    y[:10] = 1.0
    table = domain.lift_gain(scores, y)
    assert [d.decile for d in table] == list(range(1, 11))
    assert table[0].lift == pytest.approx(10.0)
    assert table[0].cumulative_gain == pytest.approx(1.0)
    assert all(d.positives == 0 for d in table[1:])
    assert table[-1].cumulative_gain == pytest.approx(1.0)


def test_lift_of_a_random_ranking_is_near_one() -> None:
    rng = np.random.default_rng(7)
    y = (rng.random(100_000) < 0.05).astype(float)
    table = domain.lift_gain(rng.random(100_000), y)
    assert all(0.85 < d.lift < 1.15 for d in table)
    assert table[4].cumulative_gain == pytest.approx(0.5, abs=0.03)


def test_lift_needs_positives() -> None:
    with pytest.raises(InvalidInput, match="one positive"):
        domain.lift_gain(np.linspace(0, 1, 50), np.zeros(50))


def test_calibration_compares_mean_prediction_with_observed_rate() -> None:
    rng = np.random.default_rng(11)
    p = rng.random(50_000) * 0.2
    y = (rng.random(50_000) < p).astype(float)  # outcomes drawn from p: calibrated
    table = domain.calibration(p, y)
    assert [c.decile for c in table] == list(range(1, 11))
    assert table[0].mean_predicted < table[-1].mean_predicted
    for row in table:
        assert row.observed_rate == pytest.approx(row.mean_predicted, abs=0.012)
    overconfident = domain.calibration(p * 3, y)
    assert overconfident[-1].mean_predicted > 2 * overconfident[-1].observed_rate


def test_versions_count_up_from_one() -> None:
    assert domain.next_version([]) == 1
    assert domain.next_version([1, 3, 2]) == 4


def test_only_a_retired_model_can_be_activated() -> None:
    domain.check_activation(version=2, status=ModelStatus.RETIRED)
    with pytest.raises(Conflict, match="already the active"):
        domain.check_activation(version=2, status=ModelStatus.ACTIVE)


def test_training_is_for_province_level_users() -> None:
    domain.check_province_scope(None, is_root=True)  # the CLI: server rights
    domain.check_province_scope("/P/", is_root=True)
    with pytest.raises(Forbidden, match="province-level"):
        domain.check_province_scope("/P/C01/", is_root=False)


def test_a_changed_model_file_is_refused() -> None:
    data = b"model bytes"
    digest = domain.sha256_of(data)
    domain.check_artifact(data=data, expected_sha256=digest, path="m.joblib")
    with pytest.raises(InvalidInput, match="has been changed since it was trained"):
        domain.check_artifact(data=data + b"!", expected_sha256=digest, path="m.joblib")


def test_feature_window_dates() -> None:
    from datetime import date

    window = Window(date(2026, 1, 1))
    assert window.end == date(2026, 1, 31)
    assert window.next_month == date(2026, 2, 1)
    assert window.next_end == date(2026, 2, 28)
    assert window.recent_start == date(2025, 11, 1)
    assert window.prior_start == date(2025, 10, 1)
    assert add_months(date(2024, 12, 1), 2) == date(2025, 2, 1)
