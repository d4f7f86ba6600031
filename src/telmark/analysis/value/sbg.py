"""Shifted-beta-geometric (sBG) retention model for contract cohorts.

Fader & Hardie (2007), "How to Project Customer Retention", Journal of
Interactive Marketing 21(1): each subscriber churns at the end of a period
with a constant probability theta, and theta varies across the cohort as
Beta(alpha, beta). Fitted on one cohort's survivor counts, the model explains
why observed retention rates rise over time (the churn-prone leave first),
which a curve fitted through the rates cannot project.

With B the beta function:

* P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)  (churn in period t)
* S(t) = B(alpha, beta + t) / B(alpha, beta)               (still active after t)
* r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)

The parameters are estimated by maximum likelihood with the optimiser working
on log(alpha), log(beta) so both stay positive without bounds. The discounted
expected residual lifetime follows Fader & Hardie (2010), "Customer-Base
Valuation in a Contractual Setting: The Perils of Ignoring Heterogeneity",
Marketing Science 29(1), eq. (6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize  # type: ignore[import-untyped]
from scipy.special import betaln, hyp2f1  # type: ignore[import-untyped]

from telmark.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class SbgFit:
    alpha: float
    beta: float
    log_likelihood: float
    cohort_size: int
    observed_periods: int  # periods after the start, i.e. len(survivors) - 1
    converged: bool


@dataclass(frozen=True, slots=True)
class ProjectedPeriod:
    period: int  # 1 = the first period after the cohort started
    survival: float  # share of the cohort still active at the end of the period
    retention: float  # share of those active at the start who stay
    expected_survivors: float
    observed_survivors: int | None  # None for periods beyond the data


def check_survivors(survivors: Sequence[int]) -> None:
    """Reject counts that are not a cohort's non-increasing survivors over two or more points."""
    if len(survivors) < 2:
        raise InvalidInput("give the cohort size and at least one later survivor count")
    problems: list[dict[str, object]] = []
    for index, count in enumerate(survivors):
        if count < 0:
            problems.append({"position": index + 1, "value": count, "problem": "negative"})
        elif index and count > survivors[index - 1]:
            problems.append(
                {"position": index + 1, "value": count, "problem": "more than the period before"}
            )
    if survivors[0] <= 0:
        problems.append({"position": 1, "value": survivors[0], "problem": "cohort size not > 0"})
    if problems:
        raise InvalidInput("survivor counts must be a non-increasing cohort", details=problems)
    if survivors[-1] == survivors[0]:
        raise InvalidInput("nobody churned: the churn probability cannot be estimated")


def _log_likelihood(alpha: float, beta: float, survivors: np.ndarray) -> float:
    periods = np.arange(1, len(survivors))
    churned = survivors[:-1] - survivors[1:]
    log_p = betaln(alpha + 1, beta + periods - 1) - betaln(alpha, beta)
    log_s = betaln(alpha, beta + periods[-1]) - betaln(alpha, beta)
    return float(np.sum(churned * log_p) + survivors[-1] * log_s)


def fit(survivors: Sequence[int]) -> SbgFit:
    """Maximum-likelihood (alpha, beta) from a cohort's survivors, starting with its size."""
    check_survivors(survivors)
    counts = np.asarray(survivors, dtype=float)

    def objective(log_params: np.ndarray) -> float:
        alpha, beta = np.exp(log_params)
        return -_log_likelihood(float(alpha), float(beta), counts)

    # Nelder-Mead needs no gradient and is robust on this two-parameter surface;
    # the tight tolerances make the published three-decimal estimates reproducible.
    result = minimize(
        objective,
        x0=np.zeros(2),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 10_000},
    )
    alpha, beta = (float(v) for v in np.exp(result.x))
    return SbgFit(
        alpha=alpha,
        beta=beta,
        log_likelihood=-float(result.fun),
        cohort_size=int(survivors[0]),
        observed_periods=len(survivors) - 1,
        converged=bool(result.success),
    )


def survival(alpha: float, beta: float, period: int) -> float:
    """S(t): the probability that a new subscriber is still active after ``period`` periods."""
    return float(np.exp(betaln(alpha, beta + period) - betaln(alpha, beta)))


def retention_rate(alpha: float, beta: float, period: int) -> float:
    """r_t: the share of subscribers active at the start of ``period`` who renew at its end."""
    return (beta + period - 1) / (alpha + beta + period - 1)


def project(
    model: SbgFit, *, periods: int, observed: Sequence[int] | None = None
) -> list[ProjectedPeriod]:
    """Survival and retention for periods 1..``periods``, beside the observed counts if given."""
    rows = []
    for t in range(1, periods + 1):
        s = survival(model.alpha, model.beta, t)
        rows.append(
            ProjectedPeriod(
                period=t,
                survival=s,
                retention=retention_rate(model.alpha, model.beta, t),
                expected_survivors=s * model.cohort_size,
                observed_survivors=(
                    int(observed[t]) if observed is not None and t < len(observed) else None
                ),
            )
        )
    return rows


def discounted_residual_lifetime(
    alpha: float, beta: float, *, renewals: int, discount_rate: float
) -> float:
    """DERL: expected discounted number of further payments of a subscriber who has renewed
    ``renewals`` times (0 = just joined), counting the payment about to be made.

    Multiply by the margin per period to value the subscriber (Fader & Hardie 2010, eq. 6).
    """
    if renewals < 0:
        raise InvalidInput("renewals must be zero or more")
    if discount_rate <= 0:
        raise InvalidInput("the discount rate must be positive")
    n = renewals + 1
    ratio = (beta + n - 1) / (alpha + beta + n - 1)
    return float(ratio * hyp2f1(1.0, beta + n, alpha + beta + n, 1 / (1 + discount_rate)))
