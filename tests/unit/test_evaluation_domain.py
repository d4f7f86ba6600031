"""Evaluating per-arm counts: arm order, blanks, Holm across arms, value, errors, edge cases."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from telmark.errors import InvalidInput
from telmark.evaluation import domain
from telmark.evaluation.domain import (
    ArmCounts,
    ExperimentSpec,
    OutcomeCounts,
    ValueStats,
    evaluate,
)
from telmark.evaluation.experiment import OUTCOME_TEXT_REASON
from telmark.evaluation.stats import newcombe_difference
from telmark.warehouse.importer.parsing import FALSE_WORDS, TRUE_WORDS

SPEC = ExperimentSpec(arm="arm", control="control", outcomes=("took",))


def _arm(label: str, successes: int, known: int, missing: int = 0) -> ArmCounts:
    return ArmCounts(
        label=label,
        customers=known + missing,
        outcomes={"took": domain.OutcomeCounts(successes, known, missing)},
    )


def test_the_control_comes_first_and_treatments_by_label() -> None:
    result = evaluate(
        [_arm("B", 30, 1000), _arm("control", 20, 1000), _arm("A", 25, 1000)],
        spec=SPEC,
        source="f.csv",
    )
    assert result.treatments == ["A", "B"]
    assert [a.label for a in result.outcomes[0].arms] == ["control", "A", "B"]
    assert [c.arm for c in result.outcomes[0].comparisons] == ["A", "B"]
    assert result.customers == 3000


def test_uplift_is_treatment_minus_control_with_newcombes_interval() -> None:
    result = evaluate([_arm("control", 48, 80), _arm("T", 56, 70)], spec=SPEC, source="f")
    (comparison,) = result.outcomes[0].comparisons
    assert comparison.uplift == pytest.approx(0.2)
    assert comparison.uplift_low == pytest.approx(0.0524, abs=5e-5)
    assert comparison.uplift_high == pytest.approx(0.3339, abs=5e-5)
    assert comparison.relative == pytest.approx((56 / 70) / (48 / 80) - 1)
    assert comparison.relative is not None
    assert comparison.relative_low is not None
    assert comparison.relative_high is not None
    assert comparison.relative_low < comparison.relative < comparison.relative_high


def test_blank_outcomes_are_left_out_of_the_rate_and_counted() -> None:
    result = evaluate(
        [_arm("control", 10, 100, missing=50), _arm("T", 20, 100, missing=0)],
        spec=SPEC,
        source="f",
    )
    control, treated = result.outcomes[0].arms
    assert control.customers == 150
    assert control.known == 100
    assert control.missing == 50
    assert control.rate == pytest.approx(0.10)  # 10 of 100 known, not 10 of 150
    assert result.outcomes[0].comparisons[0].uplift == pytest.approx(0.10)
    assert treated.missing == 0


def test_holm_adjusts_across_treatment_arms() -> None:
    result = evaluate(
        [_arm("control", 200, 10_000), _arm("A", 260, 10_000), _arm("B", 205, 10_000)],
        spec=SPEC,
        source="f",
    )
    a, b = result.outcomes[0].comparisons
    assert a.p_value is not None
    assert b.p_value is not None
    assert a.p_adjusted == pytest.approx(min(1.0, 2 * a.p_value))
    assert b.p_adjusted == pytest.approx(max(b.p_value, a.p_adjusted or 0))
    assert a.significant
    assert not b.significant
    assert a.test == "z"


def test_significance_uses_the_adjusted_p_value() -> None:
    # Alone, A would be significant at 5 %; with nine weak arms beside it, Holm says no.
    arms = [_arm("control", 200, 10_000), _arm("A", 250, 10_000)]
    arms += [_arm(f"X{i}", 201, 10_000) for i in range(9)]
    alone = evaluate(arms[:2], spec=SPEC, source="f").outcomes[0].comparisons[0]
    crowded = evaluate(arms, spec=SPEC, source="f").outcomes[0].comparisons[0]
    assert alone.p_value is not None
    assert alone.p_value < 0.05
    assert alone.significant
    assert crowded.p_value == alone.p_value
    assert not crowded.significant


def test_zero_successes_and_all_successes_have_finite_intervals() -> None:
    result = evaluate(
        [_arm("control", 0, 40), _arm("none", 0, 30), _arm("all", 30, 30)], spec=SPEC, source="f"
    )
    control, everyone, none = result.outcomes[0].arms  # treatments by label
    assert control.rate == 0.0
    assert control.rate_low == 0.0
    assert control.rate_high is not None
    assert 0 < control.rate_high < 0.1
    assert everyone.rate_high == 1.0
    all_vs, none_vs = result.outcomes[0].comparisons
    assert all_vs.uplift == 1.0
    assert all_vs.uplift_low is not None
    assert 0.8 < all_vs.uplift_low < 1.0
    assert all_vs.uplift_high == 1.0
    assert none_vs.uplift == 0.0
    # No control successes: the ratio is undefined and says so rather than inventing one.
    assert all_vs.relative is None
    assert all_vs.relative_low is None
    assert all_vs.test == "z"  # expected counts of 13+ per cell: the normal test holds
    assert none_vs.test == "fisher"  # no successes at all: expected counts of 0
    assert none_vs.p_value == 1.0
    assert none.rate == 0.0


def test_an_arm_with_every_outcome_blank_is_not_compared() -> None:
    result = evaluate([_arm("control", 5, 50), _arm("T", 0, 0, missing=20)], spec=SPEC, source="f")
    (comparison,) = result.outcomes[0].comparisons
    assert comparison.uplift is None
    assert comparison.p_value is None
    assert not comparison.significant
    assert result.outcomes[0].arms[1].rate is None


def test_a_tiny_experiment_reports_what_it_could_detect() -> None:
    result = evaluate([_arm("control", 1, 5), _arm("T", 2, 5)], spec=SPEC, source="f")
    (comparison,) = result.outcomes[0].comparisons
    assert comparison.test == "fisher"
    assert comparison.p_value == pytest.approx(1.0)
    large = evaluate([_arm("control", 100, 5000), _arm("T", 130, 5000)], spec=SPEC, source="f")
    detectable = large.outcomes[0].comparisons[0].detectable_uplift
    assert detectable is not None
    assert 0.007 < detectable < 0.009  # 5,000 per arm at 2 %: about 0.8 points


def test_value_increment_per_customer_and_in_total() -> None:
    spec = ExperimentSpec(arm="arm", control="c", outcomes=("took",), value="revenue")
    arms = [
        ArmCounts("c", 1000, {"took": OutcomeCounts(20, 1000, 0)}, ValueStats(990, 10.0, 25.0, 10)),
        ArmCounts("t", 500, {"took": OutcomeCounts(15, 500, 0)}, ValueStats(500, 12.0, 36.0, 0)),
    ]
    result = evaluate(arms, spec=spec, source="f")
    assert result.value is not None
    assert [a.missing for a in result.value.arms] == [10, 0]
    (comparison,) = result.value.comparisons
    assert comparison.per_customer == pytest.approx(2.0)
    assert comparison.total == pytest.approx(2.0 * 500)
    assert comparison.low is not None
    assert comparison.total_low == pytest.approx(comparison.low * 500)
    half = (comparison.high or 0) - 2.0
    assert half == pytest.approx(1.96 * np.sqrt(25 / 990 + 36 / 500), rel=0.01)
    assert comparison.significant


def test_value_needs_two_values_per_arm() -> None:
    spec = ExperimentSpec(arm="arm", control="c", outcomes=("took",), value="v")
    arms = [
        ArmCounts("c", 3, {"took": OutcomeCounts(1, 3, 0)}, ValueStats(1, 5.0, None, 2)),
        ArmCounts("t", 3, {"took": OutcomeCounts(1, 3, 0)}, ValueStats(3, 6.0, 1.0, 0)),
    ]
    result = evaluate(arms, spec=spec, source="f")
    assert result.value is not None
    assert result.value.comparisons[0].per_customer is None


def test_a_missing_control_names_the_file_column_and_labels() -> None:
    with pytest.raises(InvalidInput) as error:
        evaluate([_arm("A", 1, 10), _arm("B", 1, 10)], spec=SPEC, source="exp.csv")
    assert "exp.csv" in error.value.message
    assert "'control'" in error.value.message
    assert "A, B" in error.value.message
    assert error.value.details == [{"file": "exp.csv", "column": "arm", "value": "control"}]


def test_only_a_control_arm_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one treatment arm"):
        evaluate([_arm("control", 1, 10)], spec=SPEC, source="f")


def test_too_many_arms_suggests_the_wrong_column() -> None:
    arms = [_arm(str(i), 1, 10) for i in range(domain.MAX_ARMS + 1)]
    with pytest.raises(InvalidInput, match="is it the arm column"):
        evaluate(arms, spec=ExperimentSpec("arm", "0", ("took",)), source="f")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (ExperimentSpec(" ", "c", ("o",)), "arm"),
        (ExperimentSpec("a", "", ("o",)), "control"),
        (ExperimentSpec("a", "c", ()), "outcome"),
        (ExperimentSpec("a", "c", ("o", "o")), "outcome"),
        (ExperimentSpec("a", "c", ("a",)), "outcome"),
        (ExperimentSpec("a", "c", ("o",), value="o"), "value"),
    ],
)
def test_spec_problems_name_the_parameter(spec: ExperimentSpec, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        spec.check()


def test_outcome_words_are_the_importers_boolean_words() -> None:
    assert set(domain.ONE_WORDS) == set(pa.array(TRUE_WORDS).to_pylist())
    assert set(domain.ZERO_WORDS) == set(pa.array(FALSE_WORDS).to_pylist())
    for word in (*domain.ONE_WORDS, *domain.ZERO_WORDS):
        assert word in OUTCOME_TEXT_REASON


def test_repeated_simulated_experiments_cover_the_true_uplift_end_to_end() -> None:
    # The Done-when check through evaluate() itself (not only the interval function), so a
    # swapped arm or a wrong denominator would show: 400 seeded experiments.
    rng = np.random.default_rng(11)
    n_t, n_c, p_t, p_c = 2500, 2500, 0.026, 0.020
    covered = 0
    for _ in range(400):
        x_t, x_c = int(rng.binomial(n_t, p_t)), int(rng.binomial(n_c, p_c))
        result = evaluate([_arm("control", x_c, n_c), _arm("T", x_t, n_t)], spec=SPEC, source="f")
        c = result.outcomes[0].comparisons[0]
        assert c.uplift_low is not None
        assert c.uplift_high is not None
        covered += c.uplift_low <= p_t - p_c <= c.uplift_high
        expected = newcombe_difference(x_t, n_t, x_c, n_c)
        assert c.uplift == pytest.approx(float(expected[0]))
    assert 0.92 <= covered / 400 <= 0.98
