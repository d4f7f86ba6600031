"""Train a calibrated propensity model on any labelled table and score every row.

The model is scikit-learn's HistGradientBoostingClassifier (native missing
values and categories) wrapped in CalibratedClassifierCV (3 folds; isotonic
once the training split has 3,000 rows, i.e. ~1,000 per calibration fold,
below which isotonic overfits, sigmoid otherwise). It is trained on a
stratified split and judged on the held-out rest; the same model scores every
row (rows with a blank label included), so the scores are the ones the
reported metrics describe. Everything is seeded: one seed, one result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.calibration import CalibratedClassifierCV  # type: ignore[import-untyped]
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from telmark.analysis.propensity import domain
from telmark.analysis.propensity.schemas import ImportanceRead, PropensityReport, ScoreRead
from telmark.errors import InvalidInput

Index = np.ndarray[Any, np.dtype[np.intp]]

ISOTONIC_MIN_TRAIN_ROWS = 3000
TOP_FEATURES = 10
MIN_HOLDOUT_PER_CLASS = 5
# Below this many rows the boosting's OpenMP threads cost more than they save
# (measured: 2,250 rows fit in 0.4 s on one thread, 4.7 s on two busy cores).
SINGLE_THREAD_MAX_ROWS = 100_000


def _frame(data: pa.Table | pd.DataFrame) -> pd.DataFrame:
    if isinstance(data, pa.Table):
        frame: pd.DataFrame = data.to_pandas()
        return frame
    return data.reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str, role: str) -> pd.Series[Any]:
    if name not in frame.columns:
        shown = ", ".join(str(c) for c in frame.columns[:20])
        raise InvalidInput(f"{role} column {name!r} is not in the data (columns: {shown})")
    return frame[name]


def split_holdout(y: domain.Floats, holdout: float, seed: int) -> tuple[Index, Index]:
    """Stratified (train, holdout) indices of the labelled rows; refuses a holdout too small."""
    labelled = np.flatnonzero(~np.isnan(y))
    train_idx, hold_idx = train_test_split(
        labelled, test_size=holdout, random_state=seed, stratify=y[labelled]
    )
    hold_y = y[hold_idx]
    if min(hold_y.sum(), (hold_y == 0).sum()) < MIN_HOLDOUT_PER_CLASS:
        raise InvalidInput(
            f"the holdout has too few positive or negative rows to measure AUC "
            f"(at least {MIN_HOLDOUT_PER_CLASS} of each); use a larger --holdout or more data"
        )
    return np.sort(train_idx), np.sort(hold_idx)


def _baseline(
    enc: domain.Encoding,
    y: domain.Floats,
    train_idx: Index,
    hold_idx: Index,
) -> tuple[float, str | None]:
    """The best single feature's holdout AUC (binned training rates); 0.5 = a constant."""
    train = np.zeros(len(y), dtype=bool)
    train[train_idx] = True
    best, best_name = 0.5, None
    for j, name in enumerate(enc.names):
        scores = domain.binned_rate_scores(
            enc.matrix[:, j], enc.categorical[j], y[train_idx], train
        )
        if np.unique(scores[hold_idx]).size < 2:
            continue
        auc = float(roc_auc_score(y[hold_idx], scores[hold_idx]))
        if auc > best:
            best, best_name = auc, name
    return best, best_name


@dataclass(frozen=True, slots=True)
class _Fitted:
    method: str
    scores: domain.Floats  # calibrated probability for every row
    importances: list[ImportanceRead]  # most important first


def fit_calibrated(
    matrix: domain.Floats,
    categorical: list[bool],
    y: domain.Floats,
    *,
    seed: int,
    boosting: Mapping[str, Any] | None = None,
    ensemble: bool = True,
) -> tuple[Any, str]:
    """The calibrated boosting model fitted on ``matrix``/``y``, and its calibration method.

    Shared with the churn model (telmark.analysis.churn), which keeps the model to
    score later and passes its own ``boosting`` parameters (over the defaults here).
    ``ensemble=False`` calibrates on cross-validated predictions and keeps one model
    fitted on all rows: one fit more, but a third of the cost per prediction.
    """
    method = "isotonic" if len(y) >= ISOTONIC_MIN_TRAIN_ROWS else "sigmoid"
    params: dict[str, Any] = {"max_iter": 100, "learning_rate": 0.1, **(boosting or {})}
    boosted = HistGradientBoostingClassifier(
        categorical_features=np.array(categorical) if any(categorical) else None,
        random_state=seed,
        **params,
    )
    model = CalibratedClassifierCV(boosted, method=method, cv=3, ensemble=ensemble)
    model.fit(matrix, y)
    return model, method


def rank_importance(
    model: Any,
    matrix: domain.Floats,
    y: domain.Floats,
    names: list[str],
    *,
    seed: int,
    repeats: int = 5,
) -> list[ImportanceRead]:
    """Permutation importance (drop in AUC over ``repeats`` shuffles), most important first.

    sklearn's ``permutation_importance`` calls the model once per feature and
    shuffle; each call of the calibrated model carries a fixed cost of about
    10 ms, which made the ranking most of a small training's time. Here the
    shuffled copies of one column are stacked and scored in a single call.
    """
    rng = np.random.default_rng(seed)
    rows = len(y)
    reference = float(roc_auc_score(y, model.predict_proba(matrix)[:, 1]))
    ranked: list[tuple[str, float, float]] = []
    for j, name in enumerate(names):
        stacked = np.tile(matrix, (repeats, 1))
        for r in range(repeats):
            stacked[r * rows : (r + 1) * rows, j] = rng.permutation(matrix[:, j])
        shuffled = model.predict_proba(stacked)[:, 1].reshape(repeats, rows)
        drops = np.array([reference - roc_auc_score(y, scores) for scores in shuffled])
        ranked.append((name, float(drops.mean()), float(drops.std())))
    ranked.sort(key=lambda item: (-item[1], item[0]))
    return [ImportanceRead(feature=name, importance=mean, std=std) for name, mean, std in ranked]


def _fit(
    enc: domain.Encoding, y: domain.Floats, train_idx: Index, hold_idx: Index, seed: int
) -> _Fitted:
    model, method = fit_calibrated(enc.matrix[train_idx], enc.categorical, y[train_idx], seed=seed)
    scores = model.predict_proba(enc.matrix)[:, 1]
    importances = rank_importance(model, enc.matrix[hold_idx], y[hold_idx], enc.names, seed=seed)
    return _Fitted(method=method, scores=scores, importances=importances)


def train_propensity(
    *,
    data: pa.Table | pd.DataFrame,
    label: str,
    id_column: str,
    holdout: float = 0.25,
    seed: int = 0,
) -> PropensityReport:
    """Detect features, train on a stratified split, report holdout metrics, score every row."""
    if not 0.05 <= holdout <= 0.5:
        raise InvalidInput(f"holdout must be between 0.05 and 0.5, not {holdout}")
    if label == id_column:
        raise InvalidInput("the label and the id must be different columns")
    frame = _frame(data)
    y = domain.parse_label(_column(frame, label, "label"), label)
    ids = domain.parse_ids(_column(frame, id_column, "id"), id_column)
    columns = [
        domain.detect(str(name), frame[name])
        for name in frame.columns
        if name not in (label, id_column)
    ]
    train_idx, hold_idx = split_holdout(y, holdout, seed)
    train_mask = np.zeros(len(frame), dtype=bool)
    train_mask[train_idx] = True
    enc = domain.encode(columns, train_mask)
    threads = 1 if len(frame) <= SINGLE_THREAD_MAX_ROWS else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        fitted = _fit(enc, y, train_idx, hold_idx, seed)
    hold_y, hold_scores = y[hold_idx], fitted.scores[hold_idx]
    baseline_auc, baseline_feature = _baseline(enc, y, train_idx, hold_idx)
    return PropensityReport(
        label=label,
        id_column=id_column,
        rows=len(frame),
        labelled_rows=int((~np.isnan(y)).sum()),
        positives=int(np.nansum(y)),
        train_rows=len(train_idx),
        holdout_rows=len(hold_idx),
        holdout_positives=int(hold_y.sum()),
        holdout=holdout,
        seed=seed,
        calibration="isotonic" if fitted.method == "isotonic" else "sigmoid",
        auc=float(roc_auc_score(hold_y, hold_scores)),
        baseline_auc=baseline_auc,
        baseline_feature=baseline_feature,
        lift=domain.deciles(hold_scores, hold_y),
        top_features=fitted.importances[:TOP_FEATURES],
        features=domain.describe(columns),
        scores=[ScoreRead(id=i, score=float(s)) for i, s in zip(ids, fitted.scores, strict=True)],
    )
