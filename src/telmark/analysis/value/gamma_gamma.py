"""Gamma-Gamma model of spend per purchase.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer
Base Analysis", Journal of Marketing Research 42(4), with the likelihood as
given in Hardie's note "The Gamma-Gamma Model of Monetary Value" (2013): a
customer's purchase values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across
customers, and spend is assumed independent of purchase timing (check that
before trusting the CLV). Fitted on repeat buyers only: x >= 1 repeat
purchases with average value mx.

Implemented with scipy for the same reason as ``bgnbd``: no maintained MLE
library without a heavy Bayesian stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize  # type: ignore[import-untyped]
from scipy.special import gammaln  # type: ignore[import-untyped]

from telmark.errors import InvalidInput

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int  # repeat buyers the fit used
    converged: bool


def log_likelihood_terms(params: tuple[float, float, float], x: Floats, mx: Floats) -> Floats:
    """Each repeat buyer's log-likelihood of their average spend under (p, q, gamma)."""
    p, q, g = params
    result: Floats = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(mx)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + x * mx)
    )
    return result


def fit(frequency: Floats, monetary: Floats) -> GammaGammaFit:
    """Maximum-likelihood (p, q, gamma) from the customers with repeat purchases."""
    x, mx = (np.asarray(v, dtype=float) for v in (frequency, monetary))
    buyers = x > 0
    if np.any(mx[buyers] <= 0):
        raise InvalidInput("repeat buyers need a positive average purchase value")
    x, mx = x[buyers], mx[buyers]
    if len(x) < 2:
        raise InvalidInput("need at least two repeat buyers to fit the spend model")

    def objective(log_params: Floats) -> float:
        p, q, g = (float(v) for v in np.exp(log_params))
        return -float(np.sum(log_likelihood_terms((p, q, g), x, mx)))

    # Start gamma at the mean spend so the search begins in the data's currency scale.
    start = np.log([1.0, 1.0, float(np.mean(mx))])
    result = minimize(
        objective,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-8, "maxiter": 20_000},
    )
    p, q, g = (float(v) for v in np.exp(result.x))
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=g,
        log_likelihood=-float(result.fun),
        customers=len(x),
        converged=bool(result.success),
    )


def expected_spend(model: GammaGammaFit, frequency: Floats, monetary: Floats) -> Floats:
    """E[value of a purchase | x, mx]: the population mean shrunk toward the customer's own."""
    x, mx = (np.asarray(v, dtype=float) for v in (frequency, monetary))
    p, q, g = model.p, model.q, model.gamma
    # Customers without repeat purchases have no own average: they get the population mean.
    own = np.where(x > 0, mx, 0.0)
    result: Floats = p * (g + x * own) / (p * x + q - 1)
    return result


def population_mean_spend(model: GammaGammaFit) -> float:
    """E[M] over all customers; finite only when q > 1."""
    if model.q <= 1:
        raise InvalidInput("q <= 1: the mean spend of the population is unbounded")
    return model.p * model.gamma / (model.q - 1)
