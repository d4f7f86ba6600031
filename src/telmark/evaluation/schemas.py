"""What an experiment evaluation and the sample-size calculator report (rates as fractions)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telmark.evaluation.power import DEFAULT_ALPHA, DEFAULT_POWER


class _FromDomain(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ArmRateRead(_FromDomain):
    """One arm's take-up of one outcome; blank outcomes are left out and counted."""

    label: str
    customers: int
    known: int = Field(description="Customers with a known outcome (the rate's denominator).")
    successes: int
    missing: int = Field(description="Customers with a blank outcome, excluded from the rate.")
    rate: float | None
    rate_low: float | None = Field(description="Wilson score interval, lower limit.")
    rate_high: float | None


class ComparisonRead(_FromDomain):
    """A treatment arm against the control: absolute and relative uplift, test, power."""

    arm: str
    uplift: float | None = Field(description="Treatment rate − control rate.")
    uplift_low: float | None = Field(description="Newcombe hybrid score interval (method 10).")
    uplift_high: float | None
    relative: float | None = Field(description="Treatment rate / control rate − 1.")
    relative_low: float | None = Field(description="Katz log interval of the rate ratio, − 1.")
    relative_high: float | None
    test: str | None = Field(description="z (two-proportion) or fisher (exact).")
    p_value: float | None
    p_adjusted: float | None = Field(description="Holm-adjusted across the treatment arms.")
    significant: bool
    detectable_uplift: float | None = Field(
        description="Smallest rise over the control rate these arm sizes detect (power 0.8)."
    )


class OutcomeRead(_FromDomain):
    outcome: str
    arms: list[ArmRateRead] = Field(description="The control first, then the treatments.")
    comparisons: list[ComparisonRead]


class ArmValueRead(_FromDomain):
    label: str
    customers: int
    count: int = Field(description="Customers with a value.")
    missing: int = Field(description="Customers with a blank value, excluded from the mean.")
    mean: float | None


class ValueComparisonRead(_FromDomain):
    arm: str
    per_customer: float | None = Field(description="Difference of mean value per customer.")
    low: float | None = Field(description="Welch t interval, lower limit.")
    high: float | None
    total: float | None = Field(description="Per customer × the treatment arm's customers.")
    total_low: float | None
    total_high: float | None
    p_value: float | None
    p_adjusted: float | None
    significant: bool


class ValueRead(_FromDomain):
    column: str
    arms: list[ArmValueRead]
    comparisons: list[ValueComparisonRead]


class ExperimentRead(_FromDomain):
    """Every treatment arm of an A/B/n file against the control."""

    file: str
    arm_column: str
    control: str
    treatments: list[str]
    customers: int
    confidence: float
    alpha: float
    outcomes: list[OutcomeRead]
    value: ValueRead | None
    methods: dict[str, str] = Field(description="The statistical method behind each figure.")


class DetectableRequest(BaseModel):
    """Arm sizes and base rate: how small an uplift can this test detect?"""

    base_rate: float = Field(ge=0, le=1, description="Control take-up rate, e.g. 0.02.")
    n_treatment: int = Field(ge=1)
    n_control: int = Field(ge=1)
    alpha: float = Field(DEFAULT_ALPHA, gt=0, lt=1)
    power: float = Field(DEFAULT_POWER, gt=0, lt=1)


class DetectableRead(DetectableRequest):
    detectable_uplift: float | None = Field(
        description="Smallest absolute rise detected (0.004 = 0.4 points); null if none can be."
    )


class SampleSizeRequest(BaseModel):
    """Base rate and the uplift to detect: how many customers does the test need?"""

    base_rate: float = Field(ge=0, le=1)
    uplift: float = Field(description="Absolute change to detect, e.g. 0.005 for 0.5 points.")
    ratio: float = Field(1.0, gt=0, description="Treatment customers per control customer.")
    alpha: float = Field(DEFAULT_ALPHA, gt=0, lt=1)
    power: float = Field(DEFAULT_POWER, gt=0, lt=1)

    @model_validator(mode="after")
    def _reachable(self) -> SampleSizeRequest:
        if self.uplift == 0 or not 0 <= self.base_rate + self.uplift <= 1:
            raise ValueError("uplift must be non-zero and keep the rate within [0, 1]")
        return self


class SampleSizeRead(SampleSizeRequest):
    n_treatment: int
    n_control: int
