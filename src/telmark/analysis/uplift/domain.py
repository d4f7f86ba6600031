"""Pure rules of uplift modelling: the Qini and uplift curves, their coefficients, uplift@k, ranks.

Every figure is measured on a holdout of a randomised case: each row has a
binary outcome ``y`` (responded within the attribution window), a binary
``treated`` (treatment group 1, control group 0) and the model's predicted
uplift ``score``. Rows are ranked by score, highest first; rows with equal
scores form one step of a curve (as in Radcliffe 2007 and scikit-learn's ROC
curve), so no figure depends on the order of tied rows.

- **Qini curve** at the top ``n`` rows: ``Y_t(n) - Y_c(n) · N_t(n) / N_c(n)``,
  the incremental responders targeting those rows would have brought
  (``Y`` responders, ``N`` rows, in treatment ``t`` and control ``c``).
- **Uplift curve** at the top ``n`` rows: ``(Y_t/N_t - Y_c/N_c) · n``.
- **Qini coefficient** and **AUUC**: the area between the model's curve and
  random targeting's straight line, divided by the same area of the perfect
  ranking (treated responders first, control responders last; the perfect
  uplift curve as in scikit-uplift's ``perfect_uplift_curve``). Random
  targeting scores about 0, the perfect ranking 1, a harmful ranking below 0.
  The perfect curve sorts by outcomes the model cannot know, so real models
  score far below 1: the coefficient is for comparing models and random, not
  an accuracy.
- **uplift@k**: the treatment response rate minus the control response rate
  among the top ``k`` share of all rows (scikit-uplift's ``overall``
  strategy); random targeting's expected uplift@k is the overall uplift.

Ranks for targeting: rank 1 is the line with the highest predicted uplift;
ties go to the lower subscriber id so the same scores always give the same
ranks. Decile 10 holds the highest-uplift tenth (as churn's risk deciles do).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from telmark.analysis.churn.domain import check_artifact, next_version, sha256_of
from telmark.errors import Forbidden, InvalidInput

__all__ = ["check_artifact", "next_version", "sha256_of"]  # shared with the churn registry

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

DECILES = 10
# The shares of the holdout uplift@k is reported at.
K_SHARES = (0.1, 0.2, 0.3)
# Each group needs responders and non-responders to fit its model and measure it.
MIN_PER_CELL = 20
# Points of a curve kept for storage and charts (the full curve has one per distinct score).
CURVE_POINTS = 101


class ModelStatus(StrEnum):
    """``trained``: not yet in ``uplift_scores``; ``scored``: its scores are there."""

    TRAINED = "trained"
    SCORED = "scored"


class Source(StrEnum):
    """Where a model's training rows came from."""

    CASES = "cases"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Curve:
    """Points of a curve: ``x`` rows targeted (from 0), ``y`` the curve's value there."""

    x: Floats
    y: Floats


def _check(y: Floats, treated: Floats, score: Floats) -> None:
    if not len(y) == len(treated) == len(score):
        raise InvalidInput("outcome, treatment and score must have the same length")
    if len(y) == 0:
        raise InvalidInput("an uplift metric needs at least one row")
    for name, values in (("outcome", y), ("treated", treated)):
        if not np.isin(values, (0.0, 1.0)).all():
            raise InvalidInput(f"{name} must be 0 or 1 in every row")


def _steps(y: Floats, treated: Floats, score: Floats) -> tuple[Floats, Floats, Floats, Floats]:
    """Cumulative rows, treated rows, treated and control responders at each distinct score."""
    order = np.argsort(-score, kind="stable")
    s, t, r = score[order], treated[order], y[order]
    # The last row of each run of equal scores closes a step.
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    n = (ends + 1).astype(np.float64)
    n_t = np.cumsum(t)[ends]
    y_t = np.cumsum(r * t)[ends]
    y_c = np.cumsum(r * (1.0 - t))[ends]
    return n, n_t, y_t, y_c


def _ratio(numerator: Floats, denominator: Floats) -> Floats:
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def qini_curve(y: Floats, treated: Floats, score: Floats) -> Curve:
    """Incremental responders among the top ``n`` rows, at every distinct score (from (0, 0))."""
    _check(y, treated, score)
    n, n_t, y_t, y_c = _steps(y, treated, score)
    values = y_t - y_c * _ratio(n_t, n - n_t)
    return Curve(np.r_[0.0, n], np.r_[0.0, values])


def uplift_curve(y: Floats, treated: Floats, score: Floats) -> Curve:
    """Response-rate difference times ``n`` among the top ``n`` rows (from (0, 0))."""
    _check(y, treated, score)
    n, n_t, y_t, y_c = _steps(y, treated, score)
    values = (_ratio(y_t, n_t) - _ratio(y_c, n - n_t)) * n
    return Curve(np.r_[0.0, n], np.r_[0.0, values])


def _perfect_qini_score(y: Floats, treated: Floats) -> Floats:
    # Treated responders first, control responders last, everyone else between.
    return y * treated - y * (1.0 - treated)


def _perfect_uplift_score(y: Floats, treated: Floats) -> Floats:
    control_responders = float(np.sum((y == 1) & (treated == 0)))
    treated_non_responders = float(np.sum((y == 0) & (treated == 1)))
    summand = y if control_responders > treated_non_responders else treated
    result: Floats = 2.0 * (y == treated) + summand
    return result


def _area(curve: Curve) -> float:
    return float(np.trapezoid(curve.y, curve.x))


def _coefficient(actual: Curve, perfect: Curve) -> float:
    # Random targeting is the straight line from (0, 0) to the curve's end.
    random = 0.5 * float(perfect.x[-1]) * float(perfect.y[-1])
    best = _area(perfect) - random
    if best == 0:
        raise InvalidInput("the holdout's outcomes cannot tell any ranking from random")
    return (_area(actual) - random) / best


def qini_coefficient(y: Floats, treated: Floats, score: Floats) -> float:
    """Area between the Qini curve and random targeting, relative to the perfect ranking's."""
    actual = qini_curve(y, treated, score)
    return _coefficient(actual, qini_curve(y, treated, _perfect_qini_score(y, treated)))


def auuc(y: Floats, treated: Floats, score: Floats) -> float:
    """Area between the uplift curve and random targeting, relative to the perfect ranking's."""
    actual = uplift_curve(y, treated, score)
    return _coefficient(actual, uplift_curve(y, treated, _perfect_uplift_score(y, treated)))


def response_rates(y: Floats, treated: Floats) -> tuple[float, float]:
    """Treatment and control response rates (0 for a group with no rows)."""
    n_t = float(treated.sum())
    n_c = float(len(treated) - n_t)
    rate_t = float((y * treated).sum()) / n_t if n_t else 0.0
    rate_c = float((y * (1.0 - treated)).sum()) / n_c if n_c else 0.0
    return rate_t, rate_c


def overall_uplift(y: Floats, treated: Floats) -> float:
    """Treatment minus control response rate over all rows: what random targeting achieves."""
    rate_t, rate_c = response_rates(y, treated)
    return rate_t - rate_c


def top_rows(score: Floats, k: float) -> npt.NDArray[np.intp]:
    """Positions of the top ``k`` share of rows by score (at least one; ties in row order)."""
    if not 0 < k <= 1:
        raise InvalidInput(f"k is a share of the rows in (0, 1], not {k}")
    count = max(1, round(len(score) * k))
    return np.argsort(-score, kind="stable")[:count]


def uplift_at_k(y: Floats, treated: Floats, score: Floats, k: float) -> float:
    """Treatment minus control response rate among the top ``k`` share of rows."""
    _check(y, treated, score)
    top = top_rows(score, k)
    return overall_uplift(y[top], treated[top])


def sample_curve(curve: Curve, points: int = CURVE_POINTS) -> Curve:
    """The curve at ``points`` evenly spaced shares of the rows (0%, 1%, …, 100% by default)."""
    total = float(curve.x[-1])
    x = np.linspace(0.0, total, points)
    return Curve(x, np.interp(x, curve.x, curve.y))


def uplift_ranks(uplift: Floats, subscriber_ids: Ints) -> Ints:
    """Rank 1..n of every line, 1 = highest predicted uplift, ties to the lower subscriber id."""
    n = len(uplift)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    # lexsort sorts by the last key first: uplift descending, then id ascending.
    order = np.lexsort((subscriber_ids, -uplift))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1, dtype=np.int64)
    return ranks


def uplift_deciles(ranks: Ints) -> Ints:
    """Decile 1..10 of every rank (10 = the highest-uplift tenth)."""
    n = len(ranks)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    result: Ints = DECILES - (ranks - 1) * DECILES // n
    return result


def in_top_pct(rank: int, lines: int, top_pct: int) -> bool:
    """Whether rank ``rank`` of ``lines`` lies in the top ``top_pct`` percent (exact integers).

    The segment condition compiles the same comparison: ``rank * 100 <= top_pct * lines``.
    """
    return rank * 100 <= top_pct * lines


def stratum(y: Floats, treated: Floats) -> Ints:
    """The split's strata: treatment × outcome, so both sides keep the case's design."""
    result: Ints = (treated * 2 + y).astype(np.int64)
    return result


def check_cells(y: Floats, treated: Floats, *, what: str) -> None:
    """Both groups need responders and non-responders (at least ``MIN_PER_CELL`` each)."""
    cells = {
        "treated responders": int(np.sum((treated == 1) & (y == 1))),
        "treated non-responders": int(np.sum((treated == 1) & (y == 0))),
        "control responders": int(np.sum((treated == 0) & (y == 1))),
        "control non-responders": int(np.sum((treated == 0) & (y == 0))),
    }
    short = {name: n for name, n in cells.items() if n < MIN_PER_CELL}
    if short:
        listed = ", ".join(f"{n:,} {name}" for name, n in cells.items())
        raise InvalidInput(
            f"{what} has {listed}; an uplift model needs at least {MIN_PER_CELL} of each",
            details=[{"field": "rows", **cells}],
        )


def check_province_scope(scope_path: str | None, *, is_root: bool) -> None:
    """Training and scoring read and write the whole province: province users only."""
    if scope_path is not None and not is_root:
        raise Forbidden(
            "uplift models are trained on and score the whole province; only province-level "
            "users may train or score them"
        )
