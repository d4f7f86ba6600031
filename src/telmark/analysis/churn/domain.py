"""Pure rules of the churn model: risk deciles and bands, lift and calibration, versions.

Risk deciles rank the scored lines by probability: decile 10 holds the 10%
most likely to port out, decile 1 the least likely. Ties (isotonic
calibration gives many equal probabilities) are broken by subscriber id, so
deciles have equal sizes (±1) and the same scores always give the same
deciles.

Risk bands, by decile: **high** = deciles 9–10 (the riskiest 20%, the size a
retention campaign can usually reach), **medium** = 7–8, **low** = 1–6.
Bands are relative (a share of the scored base), not absolute probability
cut-offs, so the high band stays a workable target list when the overall
churn level moves.

Versions: each training adds the next version number; the new model becomes
the active one and the previous active model is retired. Exactly one model is
active (the database enforces it too); any retired model may be activated
again, which retires the active one. Models are never deleted: scores in the
warehouse name the version that produced them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from telmark.analysis.churn.schemas import CalibrationRead
from telmark.analysis.propensity.domain import deciles
from telmark.analysis.propensity.schemas import DecileRead
from telmark.errors import Conflict, Forbidden, InvalidInput

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

DECILES = 10
HIGH_FROM_DECILE = 9
MEDIUM_FROM_DECILE = 7


class ModelStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class RiskBand(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def risk_deciles(probabilities: Floats, subscriber_ids: Ints) -> Ints:
    """Decile 1..10 of every line (10 = highest risk), ties broken by subscriber id."""
    n = len(probabilities)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    # lexsort sorts by the last key first: probability, then id.
    order = np.lexsort((subscriber_ids, probabilities))
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n, dtype=np.int64)
    result: Ints = ranks * DECILES // n + 1
    return result


def risk_band(decile: int) -> RiskBand:
    """The band of a risk decile (see the module docstring for the cut-offs)."""
    if not 1 <= decile <= DECILES:
        raise InvalidInput(f"a risk decile is 1..{DECILES}, not {decile}")
    if decile >= HIGH_FROM_DECILE:
        return RiskBand.HIGH
    if decile >= MEDIUM_FROM_DECILE:
        return RiskBand.MEDIUM
    return RiskBand.LOW


def risk_bands(decile_values: Ints) -> npt.NDArray[np.object_]:
    """``risk_band`` of every decile, vectorised."""
    return np.where(
        decile_values >= HIGH_FROM_DECILE,
        RiskBand.HIGH.value,
        np.where(decile_values >= MEDIUM_FROM_DECILE, RiskBand.MEDIUM.value, RiskBand.LOW.value),
    ).astype(object)


def lift_gain(scores: Floats, y: Floats) -> list[DecileRead]:
    """Lift and cumulative gain by tenth of the holdout, highest scores first.

    The propensity trainer's table (telmark.analysis.propensity.domain.deciles),
    so both models report lift the same way.
    """
    if len(scores) != len(y) or len(y) < DECILES or y.sum() == 0:
        raise InvalidInput("a lift table needs at least 10 scored rows and one positive")
    return deciles(scores, y)


def calibration(scores: Floats, y: Floats) -> list[CalibrationRead]:
    """Mean predicted probability against the observed rate, by tenth of the scores (lowest first).

    A calibrated model has the two close in every tenth.
    """
    if len(scores) != len(y) or len(y) < DECILES:
        raise InvalidInput("a calibration table needs at least 10 scored rows")
    order = np.argsort(scores, kind="stable")
    return [
        CalibrationRead(
            decile=i,
            rows=int(part.size),
            mean_predicted=float(scores[part].mean()),
            observed_rate=float(y[part].mean()),
        )
        for i, part in enumerate(np.array_split(order, DECILES), start=1)
        if part.size
    ]


def next_version(existing: Iterable[int]) -> int:
    """One more than the highest version so far (1 for the first model)."""
    return max(existing, default=0) + 1


def check_activation(*, version: int, status: ModelStatus) -> None:
    """A retired model may be activated; activating the active one is a conflict."""
    if status == ModelStatus.ACTIVE:
        raise Conflict(f"churn model version {version} is already the active model")


def check_province_scope(scope_path: str | None, *, is_root: bool) -> None:
    """Training, scoring and activation act on the whole province: province users only."""
    if scope_path is not None and not is_root:
        raise Forbidden(
            "churn models are trained on and score the whole province; only province-level "
            "users may train, score or activate them"
        )


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_artifact(*, data: bytes, expected_sha256: str, path: str) -> None:
    """Refuse a model file whose SHA-256 differs from the one recorded when it was trained."""
    actual = sha256_of(data)
    if actual != expected_sha256:
        raise InvalidInput(
            f"model file {path} has been changed since it was trained (SHA-256 {actual[:12]}…, "
            f"recorded {expected_sha256[:12]}…); refusing to load it — retrain the model",
            details=[{"file": path, "reason": "sha256 mismatch"}],
        )
