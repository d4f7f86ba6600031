"""Evaluating an A/B/n experiment from per-arm counts: each treatment arm against the control.

The input is what one pass over a customer table yields per arm (``ArmCounts``): customers,
and per outcome the successes, the customers with a known outcome and those with a blank
one; per value column the count, mean and variance of the known values. Everything else is
derived here, without the file, so the same rules evaluate a marketing case's contacts later.

Rules a reader of the result must know:

- **Blank outcomes are excluded, and counted.** A blank is not a "no": the customer's outcome
  is unknown (not yet reported, lost in an export), and counting it as 0 would bias the rate
  of whichever arm has more blanks. Each arm's rate is successes / customers with a known
  outcome, and the number left out is reported per arm and outcome. Blank values (the value
  column) follow the same rule.
- **Which words mean 1 and 0** (case-insensitive, surrounding spaces ignored): ``1 true t
  yes y 是`` and ``0 false f no n 否`` — the words the warehouse importer accepts for
  booleans; numeric columns must hold 0 or 1, boolean columns are taken as they are. Any
  other text is an error naming the file, row and column.
- **Incremental value** is the difference of the arms' mean values per customer (Welch
  interval, see ``stats``); the total is that difference times the treatment arm's customers.
- **Several treatment arms**: each is compared with the control; p-values are Holm-adjusted
  across the arms of one outcome (and across the arms for the value), and "significant"
  means the adjusted p-value is below α.
- **Minimum detectable effect** of each comparison: the smallest rise over the control's
  observed rate that arms of these sizes detect with 80 % power — "this test could only
  detect ≥ x points", so a non-significant result is read against what it could have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from telmark.errors import InvalidInput
from telmark.evaluation import power, stats
from telmark.translation import N_

CONFIDENCE = 0.95
ALPHA = 0.05
ONE_WORDS = ("true", "t", "1", "y", "yes", "是")
ZERO_WORDS = ("false", "f", "0", "n", "no", "否")
# An arm column with more labels than this is almost surely the wrong column (a customer id).
MAX_ARMS = 50

# What each figure is computed with (English msgids; the console translates them).
METHODS: dict[str, str] = {
    "rate_interval": N_("Wilson score interval"),
    "uplift_interval": N_("Newcombe hybrid score interval (method 10)"),
    "relative_interval": N_("Katz log interval of the rate ratio (½ added to each cell at 0)"),
    "test": N_("Two-sided two-proportion z test; Fisher exact when an expected count is below 5"),
    "multiple_arms": N_("Holm step-down adjustment across treatment arms, per outcome"),
    "value_interval": N_("Welch t interval of the difference in mean value per customer"),
    "detectable_uplift": N_("Arcsine approximation, two-sided alpha 0.05, power 0.8"),
    "blank_outcomes": N_("Blank outcomes and values are excluded and counted per arm"),
}


@dataclass(frozen=True, slots=True)
class ExperimentSpec:
    """Which columns hold the arm, the outcomes and the optional value, and the control."""

    arm: str
    control: str
    outcomes: tuple[str, ...]
    value: str | None = None

    def check(self) -> None:
        """Raise InvalidInput naming the parameter when the columns cannot be evaluated."""
        if not self.arm.strip():
            raise InvalidInput("arm: name the column holding each customer's arm")
        if not self.control.strip():
            raise InvalidInput("control: name the control arm's label")
        if not self.outcomes:
            raise InvalidInput("outcome: name at least one outcome column")
        if any(not o.strip() for o in self.outcomes):
            raise InvalidInput("outcome: a column name is blank")
        if len(set(self.outcomes)) != len(self.outcomes):
            raise InvalidInput("outcome: a column is named more than once")
        if self.arm in self.outcomes:
            raise InvalidInput(f"outcome: {self.arm!r} is the arm column")
        if self.value is not None and self.value in (self.arm, *self.outcomes):
            raise InvalidInput(f"value: {self.value!r} is already the arm or an outcome column")

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.arm, *self.outcomes, *((self.value,) if self.value else ()))


@dataclass(frozen=True, slots=True)
class OutcomeCounts:
    successes: int
    known: int  # customers with a 0 or 1
    missing: int  # customers with a blank outcome, left out of the rate


@dataclass(frozen=True, slots=True)
class ValueStats:
    count: int  # customers with a value
    mean: float | None
    variance: float | None  # sample variance; None below two values
    missing: int


@dataclass(frozen=True, slots=True)
class ArmCounts:
    label: str
    customers: int
    outcomes: dict[str, OutcomeCounts]
    value: ValueStats | None = None


@dataclass(frozen=True, slots=True)
class ArmRate:
    label: str
    customers: int
    known: int
    successes: int
    missing: int
    rate: float | None
    rate_low: float | None
    rate_high: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One treatment arm against the control for one outcome (rates as fractions)."""

    arm: str
    uplift: float | None
    uplift_low: float | None
    uplift_high: float | None
    relative: float | None  # treatment rate / control rate − 1
    relative_low: float | None
    relative_high: float | None
    test: str | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    detectable_uplift: float | None


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    outcome: str
    arms: list[ArmRate]  # the control first
    comparisons: list[Comparison]


@dataclass(frozen=True, slots=True)
class ArmValue:
    label: str
    customers: int
    count: int
    missing: int
    mean: float | None


@dataclass(frozen=True, slots=True)
class ValueComparison:
    arm: str
    per_customer: float | None
    low: float | None
    high: float | None
    total: float | None
    total_low: float | None
    total_high: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool


@dataclass(frozen=True, slots=True)
class ValueResult:
    column: str
    arms: list[ArmValue]
    comparisons: list[ValueComparison]


@dataclass(frozen=True, slots=True)
class Evaluation:
    arm_column: str
    control: str
    treatments: list[str]
    customers: int
    confidence: float
    alpha: float
    outcomes: list[OutcomeResult]
    value: ValueResult | None
    methods: dict[str, str]


def order_arms(
    counts: Sequence[ArmCounts], *, spec: ExperimentSpec, source: str
) -> list[ArmCounts]:
    """The control first, then the treatments by label; InvalidInput if that is not an A/B/n."""
    labels = sorted(c.label for c in counts)
    shown = ", ".join(labels[:20]) + (" …" if len(labels) > 20 else "")
    if len(labels) > MAX_ARMS:
        raise InvalidInput(
            f"{source}: column {spec.arm!r} has more than {MAX_ARMS} distinct labels; "
            "is it the arm column?",
            details=[{"file": source, "column": spec.arm}],
        )
    if spec.control not in labels:
        raise InvalidInput(
            f"{source}: the control label {spec.control!r} does not occur in column "
            f"{spec.arm!r}; its labels are: {shown or '(none)'}",
            details=[{"file": source, "column": spec.arm, "value": spec.control}],
        )
    if len(labels) < 2:
        raise InvalidInput(
            f"{source}: column {spec.arm!r} has only the control arm {spec.control!r}; "
            "an experiment needs at least one treatment arm",
            details=[{"file": source, "column": spec.arm}],
        )
    by_label = {c.label: c for c in counts}
    return [by_label[spec.control], *(by_label[x] for x in labels if x != spec.control)]


def _optional(value: float) -> float | None:
    """None for NaN or infinity (JSON has neither), else the value."""
    return value if value == value and abs(value) != float("inf") else None


def arm_rate(label: str, customers: int, counts: OutcomeCounts, *, confidence: float) -> ArmRate:
    if counts.known == 0:
        low = high = rate = None
    else:
        lower, upper = stats.wilson(counts.successes, counts.known, confidence=confidence)
        rate, low, high = counts.successes / counts.known, float(lower), float(upper)
    return ArmRate(
        label=label,
        customers=customers,
        known=counts.known,
        successes=counts.successes,
        missing=counts.missing,
        rate=rate,
        rate_low=low,
        rate_high=high,
    )


def compare_rates(
    treatment: ArmRate, control: ArmRate, *, confidence: float
) -> tuple[Comparison, float | None]:
    """The treatment against the control, and the raw p-value for the Holm adjustment."""
    if treatment.known == 0 or control.known == 0:
        return _no_comparison(treatment.label), None
    x1, n1, x2, n2 = treatment.successes, treatment.known, control.successes, control.known
    difference, low, high = stats.newcombe_difference(x1, n1, x2, n2, confidence=confidence)
    ratio, ratio_low, ratio_high = stats.katz_ratio(x1, n1, x2, n2, confidence=confidence)
    test, p_value = stats.proportion_test(x1, n1, x2, n2)
    relative = _optional(float(ratio))
    comparison = Comparison(
        arm=treatment.label,
        uplift=float(difference),
        uplift_low=float(low),
        uplift_high=float(high),
        relative=None if relative is None else relative - 1,
        relative_low=_shifted(float(ratio_low)),
        relative_high=_shifted(float(ratio_high)),
        test=test,
        p_value=p_value,
        p_adjusted=None,
        significant=False,
        detectable_uplift=power.detectable_uplift(base_rate=x2 / n2, n_treatment=n1, n_control=n2),
    )
    return comparison, p_value


def _no_comparison(arm: str) -> Comparison:
    """An arm with no known outcome (or no known control outcome) cannot be compared."""
    return Comparison(
        arm=arm, uplift=None, uplift_low=None, uplift_high=None, relative=None,
        relative_low=None, relative_high=None, test=None, p_value=None, p_adjusted=None,
        significant=False, detectable_uplift=None,
    )  # fmt: skip


def _shifted(ratio: float) -> float | None:
    value = _optional(ratio)
    return None if value is None else value - 1


def _with_adjusted(
    comparisons: list[Comparison], raw: list[float | None], *, alpha: float
) -> list[Comparison]:
    adjusted = stats.holm(raw)
    return [
        replace(c, p_adjusted=p, significant=p is not None and p < alpha)
        for c, p in zip(comparisons, adjusted, strict=True)
    ]


def evaluate_outcome(
    outcome: str, arms: Sequence[ArmCounts], *, confidence: float, alpha: float
) -> OutcomeResult:
    """Rates of every arm (the control first) and each treatment against the control."""
    rates = [
        arm_rate(a.label, a.customers, a.outcomes[outcome], confidence=confidence) for a in arms
    ]
    control, treatments = rates[0], rates[1:]
    pairs = [compare_rates(t, control, confidence=confidence) for t in treatments]
    comparisons = _with_adjusted([c for c, _ in pairs], [p for _, p in pairs], alpha=alpha)
    return OutcomeResult(outcome=outcome, arms=rates, comparisons=comparisons)


def _value_comparison(
    treatment: ArmCounts, control: ArmCounts, *, confidence: float
) -> tuple[ValueComparison, float | None]:
    t, c = treatment.value, control.value
    if t is None or c is None or t.mean is None or c.mean is None or min(t.count, c.count) < 2:
        # Welch's interval needs a variance in each arm, so at least two values.
        empty = ValueComparison(
            arm=treatment.label, per_customer=None, low=None, high=None, total=None,
            total_low=None, total_high=None, p_value=None, p_adjusted=None, significant=False,
        )  # fmt: skip
        return empty, None
    difference, low, high, p = stats.welch(
        t.mean, t.variance or 0.0, t.count, c.mean, c.variance or 0.0, c.count,
        confidence=confidence,
    )  # fmt: skip
    size = treatment.customers
    comparison = ValueComparison(
        arm=treatment.label,
        per_customer=difference,
        low=low,
        high=high,
        total=difference * size,
        total_low=low * size,
        total_high=high * size,
        p_value=p,
        p_adjusted=None,
        significant=False,
    )
    return comparison, p


def evaluate_value(
    column: str, arms: Sequence[ArmCounts], *, confidence: float, alpha: float
) -> ValueResult:
    """Mean value per customer of every arm and each treatment's increment over the control."""
    values = []
    for arm in arms:
        v = arm.value or ValueStats(count=0, mean=None, variance=None, missing=arm.customers)
        values.append(ArmValue(arm.label, arm.customers, v.count, v.missing, v.mean))
    pairs = [_value_comparison(t, arms[0], confidence=confidence) for t in arms[1:]]
    adjusted = stats.holm([p for _, p in pairs])
    comparisons = [
        replace(c, p_adjusted=p, significant=p is not None and p < alpha)
        for (c, _), p in zip(pairs, adjusted, strict=True)
    ]
    return ValueResult(column=column, arms=values, comparisons=comparisons)


def evaluate(
    counts: Sequence[ArmCounts],
    *,
    spec: ExperimentSpec,
    source: str,
    confidence: float = CONFIDENCE,
    alpha: float = ALPHA,
) -> Evaluation:
    """Every treatment arm against the control, for every outcome and the value column."""
    arms = order_arms(counts, spec=spec, source=source)
    return Evaluation(
        arm_column=spec.arm,
        control=spec.control,
        treatments=[a.label for a in arms[1:]],
        customers=sum(a.customers for a in arms),
        confidence=confidence,
        alpha=alpha,
        outcomes=[
            evaluate_outcome(o, arms, confidence=confidence, alpha=alpha) for o in spec.outcomes
        ],
        value=(
            evaluate_value(spec.value, arms, confidence=confidence, alpha=alpha)
            if spec.value
            else None
        ),
        methods=dict(METHODS),
    )
