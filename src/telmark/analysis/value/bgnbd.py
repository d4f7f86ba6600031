"""BG/NBD model of repeat purchasing for non-contract customers (recharges, add-on packs).

Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An
Alternative to the Pareto/NBD Model", Marketing Science 24(2): while active a
customer buys at Poisson rate lambda ~ Gamma(r, alpha); after every purchase
they drop out with probability p ~ Beta(a, b). A customer is summarised by
x repeat purchases, the time t_x of the last one and the time T observed, all
measured from their first purchase.

Why our own code: the maintained Python options fit these models by Bayesian
sampling (pymc-marketing, built on PyMC/PyTensor; ``btyd``, its predecessor,
is archived and only supported Python 3.8/3.9) and ``lifetimes``, the MLE
library, has been archived since 2020. The published log-likelihood (eq. 6
of the paper, as laid out in Hardie's note "Implementing the BG/NBD Model"),
P(alive) (eq. 13 of the note) and the conditional expectation (eq. 10 of the
paper) are a few lines of scipy, so we implement them and check them against
the paper's CDNOW estimates (tests/unit/test_value_bgnbd.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize  # type: ignore[import-untyped]
from scipy.special import betaln, gammaln, hyp2f1  # type: ignore[import-untyped]

from telmark.errors import InvalidInput

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BgNbdFit:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    converged: bool


def _check(x: Floats, t_x: Floats, big_t: Floats) -> None:
    if not (len(x) == len(t_x) == len(big_t)) or len(x) == 0:
        raise InvalidInput("frequency, recency and T must be equally long and not empty")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > big_t):
        raise InvalidInput("need 0 <= recency <= T and frequency >= 0 for every customer")
    if not np.any(x > 0):
        raise InvalidInput("nobody bought twice: repeat buying cannot be estimated")


def log_likelihood_terms(
    params: tuple[float, float, float, float], x: Floats, t_x: Floats, big_t: Floats
) -> Floats:
    """Each customer's log-likelihood under (r, alpha, a, b)."""
    r, alpha, a, b = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    head = head + betaln(a, b + x) - betaln(a, b)
    still_alive = -(r + x) * np.log(alpha + big_t)
    repeat = x > 0
    # Only repeat buyers can have dropped out after their last purchase; for the
    # others the second term is zero, so take log(0) out of the picture.
    safe_x = np.where(repeat, x, 1.0)
    dropped = np.log(a) - np.log(b + safe_x - 1) - (r + x) * np.log(alpha + t_x)
    tail = np.where(repeat, np.logaddexp(still_alive, dropped), still_alive)
    result: Floats = head + tail
    return result


# Bounds of the log-parameters in the fast fit: e^±25 is far beyond any sensible value.
_LOG_BOUND = 25.0


def fit(frequency: Floats, recency: Floats, age: Floats, *, fast: bool = False) -> BgNbdFit:
    """Maximum-likelihood (r, alpha, a, b) from repeat purchases, recency and T per customer.

    ``fast`` uses bounded L-BFGS-B instead of Nelder-Mead: on CDNOW it agrees to three
    decimals, and on a population where nobody drops out (the likelihood rising as the
    parameters run to infinity) it stops at the bounds in a few hundred evaluations,
    where Nelder-Mead crawls for over 100,000.
    """
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
    _check(x, t_x, big_t)

    def objective(log_params: Floats) -> float:
        p = np.exp(log_params)
        params = (float(p[0]), float(p[1]), float(p[2]), float(p[3]))
        return -float(np.sum(log_likelihood_terms(params, x, t_x, big_t)))

    # Start the rate scale at the mean observed time so the optimiser begins near
    # the data's units (weeks, months, ...); the others start at 1.
    start = np.log([1.0, max(float(np.mean(big_t)), 1e-3), 1.0, 1.0])
    if fast:
        result = minimize(
            objective,
            start,
            method="L-BFGS-B",
            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
            options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 5_000},
        )
    else:
        result = minimize(
            objective,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 20_000},
        )
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=-float(result.fun),
        customers=len(x),
        converged=bool(result.success),
    )


def _dropout_odds(model: BgNbdFit, x: Floats, t_x: Floats, big_t: Floats) -> Floats:
    # The odds that a customer dropped out after the last purchase rather than
    # being alive and silent since; zero for customers without repeat purchases.
    safe_x = np.where(x > 0, x, 1.0)
    odds = (model.a / (model.b + safe_x - 1)) * ((model.alpha + big_t) / (model.alpha + t_x)) ** (
        model.r + x
    )
    result: Floats = np.where(x > 0, odds, 0.0)
    return result


def probability_alive(model: BgNbdFit, frequency: Floats, recency: Floats, age: Floats) -> Floats:
    """P(still active at T | x, t_x, T) per customer."""
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
    result: Floats = 1.0 / (1.0 + _dropout_odds(model, x, t_x, big_t))
    return result


def expected_purchases(
    model: BgNbdFit, frequency: Floats, recency: Floats, age: Floats, *, horizon: float
) -> Floats:
    """E[purchases in (T, T + horizon] | x, t_x, T] per customer (paper eq. 10)."""
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, age))
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = horizon / (alpha + big_t + horizon)
    decay = ((alpha + big_t) / (alpha + big_t + horizon)) ** (r + x)
    numerator = (a + b + x - 1) / (a - 1) * (1 - decay * hyp2f1(r + x, b + x, a + b + x - 1, z))
    result: Floats = numerator / (1.0 + _dropout_odds(model, x, t_x, big_t))
    return result
