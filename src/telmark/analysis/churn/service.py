"""Churn model use cases: train a version, list and activate versions, score every line.

Training takes the features of the second-to-last usage month T (so that the
label month T+1 is in the warehouse) and fits the propensity trainer's
calibrated gradient-boosting model (telmark.analysis.propensity.service) on
a stratified 75% of the lines (at most ``TRAIN_MAX_ROWS`` of them, a stratified
sample); the other 25% is the holdout every reported figure comes from. The
baseline is a tenure-only model (binned training port-out rate by tenure
decile) on the same split.

The fitted model is written with joblib to ``<models_dir>/churn-<version>.joblib``
and its SHA-256 stored in the registry. Loading a joblib (pickle) file runs
whatever code the file names, so a file swapped on disk would run with the
server's rights: the checksum is verified before every load, and a mismatch
refuses the model instead of loading it.

Scoring computes the latest month's features a slice of subscriber ids at a
time (``SCORE_SLICE_IDS``) and streams them in batches of ``SCORE_BATCH_ROWS``
through the model (so 10M lines never sit in memory as one feature matrix, nor
in the warehouse's hash tables at once), ranks the probabilities into deciles and writes
``churn_scores`` in one atomic replacement (the importer's ``replace_tables``).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from sqlalchemy import select
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from telmark.analysis.artifacts import read_artifact, write_artifact
from telmark.analysis.churn import domain
from telmark.analysis.churn.features import (
    CATEGORICAL,
    FEATURES,
    LABEL,
    PLAN_FAMILIES,
    TENURE,
    add_months,
    churn_features,
    usage_months,
)
from telmark.analysis.churn.models import ChurnModel
from telmark.analysis.churn.schemas import (
    ChurnMetrics,
    ChurnModelRead,
    ChurnModelSummary,
    CityRisk,
    RiskDistributionRead,
    ScoreRunRead,
)
from telmark.analysis.overview import UNASSIGNED_CITY, subscriber_city
from telmark.analysis.propensity.domain import MIN_PER_CLASS, binned_rate_scores
from telmark.analysis.propensity.service import (
    SINGLE_THREAD_MAX_ROWS,
    fit_calibrated,
    rank_importance,
    split_holdout,
)
from telmark.db import utcnow
from telmark.errors import InvalidInput, NotFound, WarehouseEmpty
from telmark.org.domain import is_root_path
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table
from telmark.warehouse.importer.load import drop, replace_tables

SCORES_TABLE = "churn_scores"
SCORE_BATCH_ROWS = 500_000
# Scoring computes the features one slice of subscriber ids at a time: over 10M lines
# at once DuckDB's joins and aggregations peaked at 10.6 GiB resident.
SCORE_SLICE_IDS = 2_500_000
# Permutation importance re-scores the holdout per feature and shuffle; a sample this
# size ranks the features just as well and keeps training on 1M lines within minutes.
IMPORTANCE_MAX_ROWS = 20_000
IMPORTANCE_REPEATS = 3
# Above this many training lines a stratified sample is fitted: 300k lines hold about
# 3,000 port-outs, enough for these shallow trees, and fitting 710k lines of a 1M
# province took 200 s of a 3-minute budget on 2 busy cores (the holdout stays whole).
TRAIN_MAX_ROWS = 300_000
HOLDOUT = 0.25
# Port-outs are rare (about 1% of lines a month), so the trees are kept shallow with
# large leaves: on a 30k-line province this lifted holdout AUC from 0.66 to 0.69
# over the propensity trainer's defaults (deeper trees fit the few positives' noise).
BOOSTING = {
    "max_depth": 3,
    "min_samples_leaf": 200,
    "learning_rate": 0.05,
    "l2_regularization": 1.0,
}
ARTIFACT_FORMAT = 1

Floats = domain.Floats
Index = np.ndarray[Any, np.dtype[np.intp]]


def models_dir(data_dir: Path) -> Path:
    """Where model files live: ``<data_dir>/models``."""
    return data_dir / "models"


def _require_province(uow: UnitOfWork) -> None:
    scope = uow.actor.scope_path
    domain.check_province_scope(scope, is_root=scope is None or is_root_path(scope))


def feature_matrix(table: pa.Table) -> Floats:
    """The model matrix of a features table: ``FEATURES`` in order, NULL as NaN.

    ``plan_family`` is coded by its position in ``PLAN_FAMILIES`` (unknown → NaN),
    a fixed vocabulary so training and scoring code it the same way.
    """
    columns: list[Floats] = []
    for name in FEATURES:
        column = table.column(name)
        if name in CATEGORICAL:
            codes = pd.Categorical(column.to_pylist(), categories=PLAN_FAMILIES).codes
            columns.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
        else:
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            columns.append(np.asarray(values, dtype=np.float64))
    if not columns[0].size:
        return np.empty((0, len(FEATURES)))
    return np.column_stack(columns)


def _categorical_mask() -> list[bool]:
    return [name in CATEGORICAL for name in FEATURES]


def _sample(indices: Index, y: Floats, limit: int, seed: int) -> Index:
    """``indices`` itself, or a stratified sample of ``limit`` of them (sorted)."""
    if len(indices) <= limit:
        return indices
    kept, _rest = train_test_split(
        indices, train_size=limit, random_state=seed, stratify=y[indices]
    )
    return np.sort(kept)


def _threads(rows: int) -> int | None:
    return 1 if rows <= SINGLE_THREAD_MAX_ROWS else None


def _summary(row: ChurnModel) -> ChurnModelSummary:
    return ChurnModelSummary(
        version=row.version,
        status="active" if row.status == domain.ModelStatus.ACTIVE else "retired",
        trained_at=row.trained_at,
        trained_by=row.trained_by,
        feature_month=row.feature_month,
        label_month=row.label_month,
        rows=row.rows,
        positives=row.positives,
        auc=row.auc,
        baseline_auc=row.baseline_auc,
        calibration_method=row.calibration_method,
        scored_at=row.scored_at,
        scored_rows=row.scored_rows,
        scored_month=row.scored_month,
    )


def _read(row: ChurnModel) -> ChurnModelRead:
    return ChurnModelRead(
        **_summary(row).model_dump(),
        metrics=ChurnMetrics.model_validate(row.metrics),
        artifact_path=row.artifact_path,
        artifact_sha256=row.artifact_sha256,
    )


def load_model(row: ChurnModel) -> Any:
    """The fitted model of ``row``, after checking its file's SHA-256 (see the module docstring)."""
    payload = read_artifact(
        path=Path(row.artifact_path), sha256=row.artifact_sha256, kind="churn",
        version=row.version, features=FEATURES,
    )  # fmt: skip
    return payload["model"]


def _months(con: BaseBackend, *, needed: int) -> list[date]:
    missing = [
        t for t in ("subscribers", "usage_monthly", "subscriptions") if not has_table(con, t)
    ]
    if missing:
        raise WarehouseEmpty(
            "the warehouse has no subscriber data to model churn on; load a province first",
            details=[{"table": t, "reason": "missing"} for t in missing],
        )
    months = usage_months(con)
    if len(months) < needed:
        raise WarehouseEmpty(
            f"churn training needs at least {needed} months of usage_monthly "
            f"(features of one month, port-outs of the next); the warehouse has {len(months)}",
            details=[{"table": "usage_monthly", "months": len(months)}],
        )
    return months


@dataclass(frozen=True, slots=True)
class Fitted:
    """A churn model fitted on one month, with its holdout figures (not yet stored)."""

    month: date
    model: Any
    method: str
    rows: int
    positives: int
    auc: float
    baseline_auc: float
    metrics: ChurnMetrics


def fit_churn(*, con: BaseBackend, seed: int = 0) -> Fitted:
    """Fit a model on the second-to-last month's features and measure it on the holdout."""
    month = _months(con, needed=2)[-2]
    started = time.perf_counter()
    expr = churn_features(con, month=month, rebuild_state=True, with_label=True)
    # Ordered: a join's row order varies between runs, and the split is by row position.
    table = expr.order_by("subscriber_id").to_pyarrow()
    matrix = feature_matrix(table)
    y = pc.cast(table.column(LABEL), pa.float64()).to_numpy(zero_copy_only=False)
    positives = int(y.sum())
    if min(positives, len(y) - positives) < MIN_PER_CLASS:
        raise InvalidInput(
            f"{month:%Y-%m} has {len(y):,} active lines of which {positives:,} ported out the "
            f"next month; training needs at least {MIN_PER_CLASS} of each outcome"
        )
    featured = time.perf_counter()
    train_idx, hold_idx = split_holdout(y, HOLDOUT, seed)
    fit_idx = _sample(train_idx, y, TRAIN_MAX_ROWS, seed)
    with threadpool_limits(limits=_threads(len(fit_idx)), user_api="openmp"):
        # One model rather than an ensemble of the 3 calibration folds' models: scoring
        # 10M lines with 3 × 100 trees took longer than the 2-minute budget.
        model, method = fit_calibrated(
            matrix[fit_idx],
            _categorical_mask(),
            y[fit_idx],
            seed=seed,
            boosting=BOOSTING,
            ensemble=False,
        )
        fitted = time.perf_counter()
        hold_scores = model.predict_proba(matrix[hold_idx])[:, 1]
        sample = hold_idx
        if len(hold_idx) > IMPORTANCE_MAX_ROWS:
            rng = np.random.default_rng(seed)
            sample = np.sort(rng.choice(hold_idx, IMPORTANCE_MAX_ROWS, replace=False))
        importance = rank_importance(
            model, matrix[sample], y[sample], list(FEATURES), seed=seed, repeats=IMPORTANCE_REPEATS
        )
    hold_y = y[hold_idx]
    train_mask = np.zeros(len(y), dtype=bool)
    train_mask[train_idx] = True
    tenure = FEATURES.index(TENURE)
    baseline = binned_rate_scores(matrix[:, tenure], False, y[train_idx], train_mask)
    metrics = ChurnMetrics(
        holdout_rows=len(hold_idx),
        holdout_positives=int(hold_y.sum()),
        lift=domain.lift_gain(hold_scores, hold_y),
        calibration=domain.calibration(hold_scores, hold_y),
        importance=importance,
        features=list(FEATURES),
        seconds={
            "features": round(featured - started, 3),
            "fit": round(fitted - featured, 3),
            "evaluation": round(time.perf_counter() - fitted, 3),
        },
    )
    return Fitted(
        month=month,
        model=model,
        method=method,
        rows=len(y),
        positives=positives,
        auc=float(roc_auc_score(hold_y, hold_scores)),
        baseline_auc=float(roc_auc_score(hold_y, baseline[hold_idx])),
        metrics=metrics,
    )


def train_model(
    *, uow: UnitOfWork, con: BaseBackend, models_dir: Path, seed: int = 0
) -> ChurnModelRead:
    """Train a new version on the second-to-last month, store it, and make it the active one."""
    _require_province(uow)
    fitted = fit_churn(con=con, seed=seed)
    versions = uow.session.scalars(select(ChurnModel.version)).all()
    version = domain.next_version(versions)
    path, sha256 = write_artifact(
        models_dir,
        "churn",
        version,
        {
            "format": ARTIFACT_FORMAT,
            "version": version,
            "features": list(FEATURES),
            "model": fitted.model,
        },
    )
    _retire_active(uow)
    row = ChurnModel(
        version=version,
        status=domain.ModelStatus.ACTIVE,
        trained_at=utcnow(),
        trained_by=uow.actor.username,
        feature_month=fitted.month,
        label_month=add_months(fitted.month, 1),
        rows=fitted.rows,
        positives=fitted.positives,
        auc=fitted.auc,
        baseline_auc=fitted.baseline_auc,
        calibration_method=fitted.method,
        metrics=fitted.metrics.model_dump(mode="json"),
        artifact_path=str(path),
        artifact_sha256=sha256,
    )
    uow.session.add(row)
    uow.commit()
    return _read(row)


def _retire_active(uow: UnitOfWork) -> None:
    for active in uow.session.scalars(
        select(ChurnModel).where(ChurnModel.status == domain.ModelStatus.ACTIVE)
    ):
        active.status = domain.ModelStatus.RETIRED
    # Flushed before the new active row, which the one-active index would refuse otherwise.
    uow.session.flush()


def list_models(*, uow: UnitOfWork) -> list[ChurnModelSummary]:
    """Every version, newest first."""
    rows = uow.session.scalars(select(ChurnModel).order_by(ChurnModel.version.desc()))
    return [_summary(row) for row in rows]


def _get(uow: UnitOfWork, version: int) -> ChurnModel:
    row = uow.session.get(ChurnModel, version)
    if row is None:
        raise NotFound(f"there is no churn model version {version}")
    return row


def get_model(*, uow: UnitOfWork, version: int) -> ChurnModelRead:
    """One version with its holdout metrics."""
    return _read(_get(uow, version))


def active_model(*, uow: UnitOfWork) -> ChurnModelRead | None:
    """The active version, or None before the first training."""
    row = uow.session.scalars(
        select(ChurnModel).where(ChurnModel.status == domain.ModelStatus.ACTIVE)
    ).first()
    return None if row is None else _read(row)


def activate(*, uow: UnitOfWork, version: int) -> ChurnModelRead:
    """Make a retired version the active one (the active one is retired)."""
    _require_province(uow)
    row = _get(uow, version)
    domain.check_activation(version=version, status=row.status)
    _retire_active(uow)
    row.status = domain.ModelStatus.ACTIVE
    uow.commit()
    return _read(row)


def score(*, uow: UnitOfWork, con: BaseBackend, version: int | None = None) -> ScoreRunRead:
    """Score every line active at the end of the latest month into ``churn_scores``.

    Uses the active model unless ``version`` names another one.
    """
    _require_province(uow)
    if version is None:
        row = uow.session.scalars(
            select(ChurnModel).where(ChurnModel.status == domain.ModelStatus.ACTIVE)
        ).first()
        if row is None:
            raise NotFound("there is no churn model yet; train one first")
    else:
        row = _get(uow, version)
    model = load_model(row)
    month = _months(con, needed=1)[-1]
    started = time.perf_counter()
    ids: list[np.ndarray[Any, Any]] = []
    probabilities: list[Floats] = []
    with threadpool_limits(limits=None, user_api="openmp"):
        for id_range in _id_slices(con, SCORE_SLICE_IDS):
            # The latest month is the snapshot's month, so its state needs no rebuilding.
            expr = churn_features(
                con, month=month, rebuild_state=False, with_label=False, ids=id_range
            )
            for batch in expr.to_pyarrow_batches(chunk_size=SCORE_BATCH_ROWS):
                if batch.num_rows == 0:
                    continue
                part = pa.Table.from_batches([batch])
                ids.append(part.column("subscriber_id").to_numpy())
                probabilities.append(model.predict_proba(feature_matrix(part))[:, 1])
    subscriber_ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
    probability = np.concatenate(probabilities) if probabilities else np.empty(0)
    if not len(probability):
        raise WarehouseEmpty(f"no line was active at the end of {month:%Y-%m}; nothing to score")
    deciles = domain.risk_deciles(probability, subscriber_ids.astype(np.int64))
    bands = domain.risk_bands(deciles)
    scored_at = utcnow()
    n = len(probability)
    scores = pa.table(
        {
            "subscriber_id": pa.array(subscriber_ids, pa.int64()),
            "model_version": pa.array(np.full(n, row.version), pa.int64()),
            "feature_month": pa.array(np.full(n, month), pa.date32()),
            "churn_probability": pa.array(probability, pa.float64()),
            "risk_decile": pa.array(deciles, pa.int64()),
            "risk_band": pa.array(bands, pa.string()),
            "scored_at": pa.array(np.full(n, scored_at), pa.timestamp("us", tz="UTC")),
        }
    )
    _replace_scores(con, scores)
    row.scored_at = scored_at
    row.scored_rows = n
    row.scored_month = month
    uow.commit()
    counts = {band.value: int((bands == band.value).sum()) for band in domain.RiskBand}
    return ScoreRunRead(
        model_version=row.version,
        feature_month=month,
        rows=n,
        scored_at=scored_at,
        mean_probability=float(probability.mean()),
        bands=counts,
        seconds=round(time.perf_counter() - started, 3),
    )


def _id_slices(con: BaseBackend, size: int) -> list[tuple[int, int]]:
    """Consecutive ranges of at most ``size`` subscriber ids covering the subscribers table."""
    subs = con.table("subscribers")
    bounds = subs.aggregate(low=subs.subscriber_id.min(), high=subs.subscriber_id.max())
    row = bounds.to_pyarrow().to_pylist()[0]
    if row["low"] is None:
        return []
    low, high = int(row["low"]), int(row["high"])
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


def _replace_scores(con: BaseBackend, scores: pa.Table) -> None:
    """Swap ``churn_scores`` for ``scores`` in one step (readers see old or new, never half)."""
    staging = f"telmark_churn_scores_new_{uuid.uuid4().hex[:8]}"
    con.create_table(staging, scores)
    try:
        with tempfile.TemporaryDirectory(prefix="telmark-churn-") as work:
            replace_tables(
                con=con, source=con, tables={SCORES_TABLE: con.table(staging)}, work_dir=Path(work)
            )
    finally:
        drop(con, staging)


def risk_distribution(*, con: BaseBackend) -> RiskDistributionRead:
    """Scored lines per city and risk band in the reader's scope (``con`` is scoped)."""
    if not has_table(con, SCORES_TABLE):
        return RiskDistributionRead(scored=False, model_version=None, feature_month=None, cities=[])
    scores = con.table(SCORES_TABLE)
    cities = subscriber_city(con).select("subscriber_id", "city_id")
    joined = scores.inner_join(cities, "subscriber_id")
    grouped = joined.group_by("city_id").agg(
        lines=joined.count(),
        high=(joined.risk_band == domain.RiskBand.HIGH.value).sum(),
        medium=(joined.risk_band == domain.RiskBand.MEDIUM.value).sum(),
        low=(joined.risk_band == domain.RiskBand.LOW.value).sum(),
        mean_probability=joined.churn_probability.mean(),
        model_version=joined.model_version.max(),
        feature_month=joined.feature_month.max(),
    )
    units = con.table("org_units").select("org_id", "name", "name_en")
    named = grouped.left_join(units, grouped.city_id == units.org_id)
    rows = named.order_by("city_id").to_pyarrow().to_pylist()
    shown = [r for r in rows if r["city_id"] != UNASSIGNED_CITY]
    return RiskDistributionRead(
        scored=True,
        model_version=max((int(r["model_version"]) for r in rows), default=None),
        feature_month=max((r["feature_month"] for r in rows), default=None),
        cities=[
            CityRisk(
                city_id=r["city_id"],
                name=r["name"] or r["city_id"],
                name_en=r["name_en"],
                lines=int(r["lines"]),
                high=int(r["high"]),
                medium=int(r["medium"]),
                low=int(r["low"]),
                mean_probability=float(r["mean_probability"]),
            )
            for r in shown
        ],
    )
