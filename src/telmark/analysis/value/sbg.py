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

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class ObservedCohort:
    """Survivors of one cohort seen only from period ``first_period`` on.

    ``survivors[i]`` is the count still active after ``first_period + i`` periods; with
    ``first_period = 0`` it starts with the cohort size. A warehouse export holds only
    the lines that still existed when the data begins, so an older cohort is seen from
    its tenure at that date (it is left-truncated).
    """

    first_period: int
    survivors: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Counts:
    """Every cohort's likelihood terms, summed per period, so one evaluation is three
    vectorised calls however many cohorts there are (hundreds of join months in a real
    warehouse; a per-cohort Python loop made the pooled fit take minutes)."""

    churn_periods: np.ndarray[Any, np.dtype[np.float64]]  # t: lines lost in period t
    churned: np.ndarray[Any, np.dtype[np.float64]]
    end_periods: np.ndarray[Any, np.dtype[np.float64]]  # still active after t periods
    ended: np.ndarray[Any, np.dtype[np.float64]]
    start_periods: np.ndarray[Any, np.dtype[np.float64]]  # first observed after t periods
    started: np.ndarray[Any, np.dtype[np.float64]]

    @classmethod
    def of(cls, cohorts: Sequence[ObservedCohort]) -> _Counts:
        churned: dict[int, float] = {}
        ended: dict[int, float] = {}
        started: dict[int, float] = {}
        for cohort in cohorts:
            start, counts = cohort.first_period, cohort.survivors
            for i, (before, after) in enumerate(itertools.pairwise(counts)):
                period = start + i + 1
                churned[period] = churned.get(period, 0.0) + before - after
            end = start + len(counts) - 1
            ended[end] = ended.get(end, 0.0) + counts[-1]
            started[start] = started.get(start, 0.0) + counts[0]

        def arrays(
            terms: dict[int, float],
        ) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
            keys = sorted(terms)
            return np.asarray(keys, dtype=float), np.asarray([terms[k] for k in keys], dtype=float)

        return cls(*arrays(churned), *arrays(ended), *arrays(started))

    def log_likelihood(self, alpha: float, beta: float) -> float:
        base = betaln(alpha, beta)
        # P(churn in period t) = B(a+1, b+t-1)/B(a,b); S(t) = B(a, b+t)/B(a,b).
        log_p = betaln(alpha + 1, beta + self.churn_periods - 1) - base
        log_s_end = betaln(alpha, beta + self.end_periods) - base
        # Conditioned on being active when first observed: subtract log S(start).
        log_s_start = betaln(alpha, beta + self.start_periods) - base
        return float(
            np.dot(self.churned, log_p)
            + np.dot(self.ended, log_s_end)
            - np.dot(self.started, log_s_start)
        )


def fit_cohorts(cohorts: Sequence[ObservedCohort]) -> SbgFit:
    """One (alpha, beta) for several cohorts, each possibly seen from a later period.

    Maximises the summed likelihood; a cohort seen from period 0 contributes exactly the
    likelihood ``fit`` uses, so one such cohort gives ``fit``'s estimates.
    """
    usable = [c for c in cohorts if len(c.survivors) >= 2]
    if not usable:
        raise InvalidInput("no cohort has two or more survivor counts")
    for cohort in usable:
        if cohort.first_period < 0:
            raise InvalidInput("a cohort cannot start before period 0")
        if cohort.survivors[0] <= 0 or any(
            later > earlier for earlier, later in itertools.pairwise(cohort.survivors)
        ):
            raise InvalidInput(
                "survivor counts must be a non-increasing cohort",
                details=[{"first_period": cohort.first_period, "survivors": cohort.survivors}],
            )
    if all(c.survivors[-1] == c.survivors[0] for c in usable):
        raise InvalidInput("nobody churned: the churn probability cannot be estimated")

    counts = _Counts.of(usable)

    def objective(log_params: np.ndarray) -> float:
        alpha, beta = (float(v) for v in np.exp(log_params))
        return -counts.log_likelihood(alpha, beta)

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
        cohort_size=sum(c.survivors[0] for c in usable),
        observed_periods=max(c.first_period + len(c.survivors) - 1 for c in usable),
        converged=bool(result.success) and bool(np.all(np.abs(result.x) < 25)),
    )


def expected_remaining_periods(
    alpha: float, beta: float, *, tenure: int, horizon: int, discount_rate: float = 0.0
) -> float:
    """Expected (discounted) periods still active within ``horizon`` for a line active after
    ``tenure`` periods: sum over k of S(tenure + k) / S(tenure) / (1 + d)^k."""
    if tenure < 0 or horizon < 1:
        raise InvalidInput("tenure must be zero or more and the horizon at least 1")
    if discount_rate < 0:
        raise InvalidInput("the discount rate cannot be negative")
    k = np.arange(1, horizon + 1)
    log_ratio = betaln(alpha, beta + tenure + k) - betaln(alpha, beta + tenure)
    return float(np.sum(np.exp(log_ratio) / (1 + discount_rate) ** k))
