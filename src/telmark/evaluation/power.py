"""Sample size and minimum detectable effect for comparing two take-up rates.

The calculation uses the arcsine (Cohen's h) normal approximation, the one statsmodels'
``NormalIndPower`` with ``proportion_effectsize`` and Cohen's power tables use: on the
scale ``φ = 2·asin(√p)`` a proportion's variance is ``1/n`` whatever p is, so

    h = φ(p₀ + Δ) − φ(p₀)   is detected when   |h| ≥ (z₁₋α/₂ + z_power)·√(1/n_t + 1/n_c).

Both directions are closed form: the smallest detectable Δ for given arm sizes, and the arm
sizes needed for a given Δ (with the treatment arm ``ratio`` times the control). The test
is two-sided at level α. At rates near 0 the arcsine scale is what keeps the answer honest:
a 2 % base rate can move up by less than down, and the detectable uplift says so.
"""

from __future__ import annotations

import math

from scipy import stats  # type: ignore[import-untyped]

from telmark.errors import InvalidInput

DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8


def _check_probability(name: str, value: float, *, open_low: bool, open_high: bool) -> None:
    low_ok = value > 0 if open_low else value >= 0
    high_ok = value < 1 if open_high else value <= 1
    if not (math.isfinite(value) and low_ok and high_ok):
        low = "(0" if open_low else "[0"
        high = "1)" if open_high else "1]"
        raise InvalidInput(f"{name} must be in {low}, {high}; got {value}")


def _check_levels(alpha: float, power: float) -> None:
    _check_probability("alpha", alpha, open_low=True, open_high=True)
    _check_probability("power", power, open_low=True, open_high=True)


def _z_sum(alpha: float, power: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def _phi(rate: float) -> float:
    return 2 * math.asin(math.sqrt(rate))


def detectable_uplift(
    *,
    base_rate: float,
    n_treatment: int,
    n_control: int,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> float | None:
    """Smallest rise of the take-up rate (absolute, 0.004 = 0.4 points) the test detects.

    None when no rise can be detected: the base rate is already so high that even a rate
    of 100 % is closer than the test can tell apart.
    """
    _check_probability("base_rate", base_rate, open_low=False, open_high=False)
    _check_levels(alpha, power)
    for name, size in (("n_treatment", n_treatment), ("n_control", n_control)):
        if size < 1:
            raise InvalidInput(f"{name} must be at least 1; got {size}")
    h = _z_sum(alpha, power) * math.sqrt(1 / n_treatment + 1 / n_control)
    angle = math.asin(math.sqrt(base_rate)) + h / 2
    if angle >= math.pi / 2:
        return None
    return math.sin(angle) ** 2 - base_rate


def sample_size(
    *,
    base_rate: float,
    uplift: float,
    ratio: float = 1.0,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> tuple[int, int]:
    """(treatment, control) customers needed to detect ``uplift`` points at ``base_rate``.

    ``ratio`` is treatment / control (2.0: twice as many treated as held out); both sizes
    are rounded up, so the pair detects at least ``uplift``.
    """
    _check_probability("base_rate", base_rate, open_low=False, open_high=False)
    _check_levels(alpha, power)
    if not (math.isfinite(ratio) and ratio > 0):
        raise InvalidInput(f"ratio (treatment / control) must be positive; got {ratio}")
    target = base_rate + uplift
    if uplift == 0 or not math.isfinite(uplift) or not 0 <= target <= 1:
        raise InvalidInput(
            f"uplift must be non-zero and keep the rate within [0, 1]; "
            f"got {uplift} on a base rate of {base_rate}"
        )
    h = abs(_phi(target) - _phi(base_rate))
    control = _z_sum(alpha, power) ** 2 * (1 + 1 / ratio) / h**2
    # A hair below the integer is float noise, not a need for one more customer.
    n_control = math.ceil(control - 1e-9)
    n_treatment = math.ceil(ratio * control - 1e-9)
    return n_treatment, n_control
