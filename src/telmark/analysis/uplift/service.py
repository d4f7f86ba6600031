"""Uplift model use cases: build training rows, train a version, score every line, list and show.

**Library.** The issue asks for a maintained library; none fits, so the
model is a two-model (T-learner) uplift built on scikit-learn's
HistGradientBoostingClassifier and the metrics are ours (``domain``, checked
against scikit-uplift's on the same inputs while choosing). Evaluated and
refused:

- scikit-uplift 0.5.1 (``sklift``, last release 2022): its metrics call
  ``sklearn.utils.extmath.stable_cumsum``, deprecated in scikit-learn 1.8 and
  removed in 1.10, so with our pinned 1.9.1 every Qini raises a
  FutureWarning (an error under the test suite's warning policy) and the
  next scikit-learn breaks it; it also pulls matplotlib, requests and tqdm.
- causalml 0.18: installs without moving a pinned version but adds about 30
  packages (xgboost, lightgbm, numba, shap, statsmodels, black, and a 350 MB
  nvidia-nccl-cu12 wheel) for two gradient-boosting models we already have.

**Model.** One gradient-boosting classifier learns P(respond | features) on
the treatment lines, another on the control lines; the predicted uplift is
the difference. On generated provinces this ranked better than class
transformation (one classifier on ``y == treated``) with the same trees.
Responses are rare and the uplift a few points, so the trees are shallow with
large leaves, and each stops early on a seeded 20% of its own lines.

**Rows.** From finished cases (completed, evaluated or closed): every line of
the case's treatment and control groups as the responses module recorded them
(``response_exposure``: contacts made, and the targeting lists' control rows
"exposed" without contact), with outcome 1 when a take-up event was
attributed to the case for that line (``response_attribution``). Both groups
follow the same attribution rule, so their response rates compare. A file
(``subscriber_id``, ``treated``, ``outcome``) can stand in for cases.
Features come from the warehouse as of the last usage month before the case
started (``features``). A stratified 30% (treatment × outcome) is the holdout
every reported figure comes from.

**Artifacts and scores** work as churn's: a joblib file under the data
directory whose SHA-256 is checked before every load; scoring computes the
latest month's features a slice of subscriber ids at a time and writes the
model's rows of ``uplift_scores`` (rank 1 = highest predicted uplift over the
whole province), keeping other versions' rows, in one atomic replacement.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from sqlalchemy import select
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from telmark.analysis.artifacts import read_artifact, write_artifact
from telmark.analysis.churn.service import feature_matrix
from telmark.analysis.propensity.service import SINGLE_THREAD_MAX_ROWS
from telmark.analysis.uplift import domain
from telmark.analysis.uplift.features import (
    FEATURES,
    Labelled,
    categorical_mask,
    labelled_features,
    line_features,
    warehouse_months,
)
from telmark.analysis.uplift.models import UpliftModel
from telmark.analysis.uplift.schemas import (
    CurvePoint,
    UpliftAtK,
    UpliftMetrics,
    UpliftModelRead,
    UpliftModelSummary,
    UpliftScoreRunRead,
)
from telmark.db import utcnow
from telmark.errors import InvalidInput, NotFound, WarehouseEmpty
from telmark.org.domain import is_root_path
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table
from telmark.warehouse.importer.load import drop, replace_tables

SCORES_TABLE = "uplift_scores"
HOLDOUT = 0.3
BOOSTING: dict[str, Any] = {
    "max_depth": 3,
    "min_samples_leaf": 300,
    "learning_rate": 0.05,
    "max_iter": 200,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.2,
    "n_iter_no_change": 10,
}
# Above this many training rows a stratified sample is fitted (as churn does): the
# holdout stays whole, and two shallow models learn little more from more lines.
TRAIN_MAX_ROWS = 600_000
SCORE_BATCH_ROWS = 500_000
SCORE_SLICE_IDS = 2_500_000  # as churn's scoring: bounded memory at 10M lines
ARTIFACT_FORMAT = 1

Floats = domain.Floats


def models_dir(data_dir: Path) -> Path:
    """Where model files live: ``<data_dir>/models`` (beside the churn models)."""
    return data_dir / "models"


def require_province(uow: UnitOfWork) -> None:
    """Training and scoring are for province-level users (checked before any work)."""
    scope = uow.actor.scope_path
    domain.check_province_scope(scope, is_root=scope is None or is_root_path(scope))


# -- fitting ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpliftPair:
    """The two fitted models; ``uplift`` is the treatment model's probability minus control's."""

    treatment: Any
    control: Any

    def uplift(self, matrix: Floats) -> Floats:
        treated: Floats = self.treatment.predict_proba(matrix)[:, 1]
        control: Floats = self.control.predict_proba(matrix)[:, 1]
        return treated - control


@dataclass(frozen=True, slots=True)
class Fitted:
    """An uplift model fitted on labelled rows, with its holdout figures (not yet stored)."""

    pair: UpliftPair
    feature_month: date
    rows: int
    treated: int
    responders: int
    metrics: UpliftMetrics
    # Holdout arrays, for callers that compare the model with other rankings.
    holdout_ids: domain.Ints
    holdout_y: Floats
    holdout_treated: Floats
    holdout_uplift: Floats


def _fit_one(matrix: Floats, y: Floats, seed: int) -> Any:
    model = HistGradientBoostingClassifier(
        **BOOSTING, categorical_features=categorical_mask(), random_state=seed
    )
    return model.fit(matrix, y)


def _sample(indices: np.ndarray[Any, Any], strata: Any, limit: int, seed: int) -> Any:
    if len(indices) <= limit:
        return indices
    kept, _rest = train_test_split(
        indices, train_size=limit, random_state=seed, stratify=strata[indices]
    )
    return np.sort(kept)


def measure(
    y: Floats, treated: Floats, uplift: Floats
) -> tuple[float, float, list[UpliftAtK], list[CurvePoint]]:
    """Qini coefficient, AUUC, uplift@k and the sampled Qini curve of one holdout."""
    qini = domain.qini_coefficient(y, treated, uplift)
    auuc = domain.auuc(y, treated, uplift)
    overall = domain.overall_uplift(y, treated)
    at_k: list[UpliftAtK] = []
    for k in domain.K_SHARES:
        top = domain.top_rows(uplift, k)
        rate_t, rate_c = domain.response_rates(y[top], treated[top])
        at_k.append(
            UpliftAtK(
                k=k,
                rows=len(top),
                uplift=rate_t - rate_c,
                random=overall,
                treated_rate=rate_t,
                control_rate=rate_c,
            )
        )
    curve = domain.sample_curve(domain.qini_curve(y, treated, uplift))
    total = float(curve.x[-1])
    end = float(curve.y[-1])
    points = [
        CurvePoint(share=round(x / total, 4), model=float(v), random=end * x / total)
        for x, v in zip(curve.x, curve.y, strict=True)
    ]
    return qini, auuc, at_k, points


def fit_uplift(*, con: BaseBackend, labelled: Labelled, seed: int = 0) -> Fitted:
    """Fit the two models on the rows' features and measure the uplift ranking on the holdout."""
    months = warehouse_months(con)
    month = labelled.feature_month or months[-1]
    if month not in months:
        raise InvalidInput(
            f"feature month {month:%Y-%m} is not a usage month of the warehouse",
            details=[{"field": "feature_month"}],
        )
    started = time.perf_counter()
    table = labelled_features(con, labelled.table, month=month, latest=months[-1]).to_pyarrow()
    if table.num_rows == 0:
        raise InvalidInput(
            f"none of the {labelled.table.num_rows:,} training lines was active at the end of "
            f"{month:%Y-%m}; check the subscriber ids",
            details=[{"field": "subscriber_id"}],
        )
    matrix = feature_matrix(table)
    y = pc.cast(table.column("outcome"), pa.float64()).to_numpy(zero_copy_only=False)
    treated = pc.cast(table.column("treated"), pa.float64()).to_numpy(zero_copy_only=False)
    domain.check_cells(y, treated, what=f"the {len(y):,} training lines active in {month:%Y-%m}")
    featured = time.perf_counter()
    strata = domain.stratum(y, treated)
    train_idx, hold_idx = train_test_split(
        np.arange(len(y)), test_size=HOLDOUT, random_state=seed, stratify=strata
    )
    fit_idx = _sample(np.sort(train_idx), strata, TRAIN_MAX_ROWS, seed)
    hold_idx = np.sort(hold_idx)
    arms = {arm: fit_idx[treated[fit_idx] == arm] for arm in (1.0, 0.0)}
    threads = 1 if len(fit_idx) <= SINGLE_THREAD_MAX_ROWS else None
    with threadpool_limits(limits=threads, user_api="openmp"):
        pair = UpliftPair(
            treatment=_fit_one(matrix[arms[1.0]], y[arms[1.0]], seed),
            control=_fit_one(matrix[arms[0.0]], y[arms[0.0]], seed),
        )
        fitted = time.perf_counter()
        uplift = pair.uplift(matrix[hold_idx])
    hold_y, hold_t = y[hold_idx], treated[hold_idx]
    qini, auuc, at_k, curve = measure(hold_y, hold_t, uplift)
    rate_t, rate_c = domain.response_rates(hold_y, hold_t)
    metrics = UpliftMetrics(
        holdout_rows=len(hold_idx),
        holdout_treated=int(hold_t.sum()),
        treated_rate=rate_t,
        control_rate=rate_c,
        overall_uplift=rate_t - rate_c,
        qini=qini,
        auuc=auuc,
        uplift_at_k=at_k,
        qini_curve=curve,
        features=list(FEATURES),
        seconds={
            "features": round(featured - started, 3),
            "fit": round(fitted - featured, 3),
            "evaluation": round(time.perf_counter() - fitted, 3),
        },
    )
    return Fitted(
        pair=pair,
        feature_month=month,
        rows=len(y),
        treated=int(treated.sum()),
        responders=int(y.sum()),
        metrics=metrics,
        holdout_ids=pc.cast(table.column("subscriber_id"), pa.int64()).to_numpy()[hold_idx],
        holdout_y=hold_y,
        holdout_treated=hold_t,
        holdout_uplift=uplift,
    )


# -- the registry ----------------------------------------------------------------------------


def _summary(row: UpliftModel) -> UpliftModelSummary:
    return UpliftModelSummary(
        version=row.version,
        status="scored" if row.status == domain.ModelStatus.SCORED else "trained",
        source="cases" if row.source == domain.Source.CASES else "file",
        case_ids=list(row.case_ids),
        source_file=row.source_file,
        trained_at=row.trained_at,
        trained_by=row.trained_by,
        seed=row.seed,
        feature_month=row.feature_month,
        rows=row.rows,
        treated=row.treated,
        responders=row.responders,
        holdout_rows=row.holdout_rows,
        qini=row.qini,
        auuc=row.auuc,
        scored_at=row.scored_at,
        scored_rows=row.scored_rows,
        scored_month=row.scored_month,
    )


def _read(row: UpliftModel) -> UpliftModelRead:
    return UpliftModelRead(
        **_summary(row).model_dump(),
        metrics=UpliftMetrics.model_validate(row.metrics),
        artifact_path=row.artifact_path,
        artifact_sha256=row.artifact_sha256,
    )


def load_model(row: UpliftModel) -> UpliftPair:
    """The fitted pair of ``row``, after checking its file's SHA-256 (as churn's models)."""
    payload = read_artifact(
        path=Path(row.artifact_path), sha256=row.artifact_sha256, kind="uplift",
        version=row.version, features=FEATURES,
    )  # fmt: skip
    return UpliftPair(treatment=payload["treatment"], control=payload["control"])


def train_model(
    *, uow: UnitOfWork, con: BaseBackend, models_dir: Path, labelled: Labelled, seed: int = 0
) -> UpliftModelRead:
    """Fit a new version on ``labelled`` (see ``labelled_from_cases``/``_file``) and store it."""
    require_province(uow)
    fitted = fit_uplift(con=con, labelled=labelled, seed=seed)
    versions = uow.session.scalars(select(UpliftModel.version)).all()
    version = domain.next_version(versions)
    path, sha256 = write_artifact(
        models_dir,
        "uplift",
        version,
        {
            "format": ARTIFACT_FORMAT,
            "version": version,
            "features": list(FEATURES),
            "treatment": fitted.pair.treatment,
            "control": fitted.pair.control,
        },
    )
    row = UpliftModel(
        version=version,
        status=domain.ModelStatus.TRAINED,
        source=labelled.source,
        case_ids=list(labelled.case_ids),
        source_file=labelled.source_file,
        trained_at=utcnow(),
        trained_by=uow.actor.username,
        seed=seed,
        feature_month=fitted.feature_month,
        rows=fitted.rows,
        treated=fitted.treated,
        responders=fitted.responders,
        holdout_rows=fitted.metrics.holdout_rows,
        qini=fitted.metrics.qini,
        auuc=fitted.metrics.auuc,
        metrics=fitted.metrics.model_dump(mode="json"),
        artifact_path=str(path),
        artifact_sha256=sha256,
    )
    uow.session.add(row)
    uow.commit()
    return _read(row)


def list_models(*, uow: UnitOfWork) -> list[UpliftModelSummary]:
    """Every version, newest first."""
    rows = uow.session.scalars(select(UpliftModel).order_by(UpliftModel.version.desc()))
    return [_summary(row) for row in rows]


def _get(uow: UnitOfWork, version: int) -> UpliftModel:
    row = uow.session.get(UpliftModel, version)
    if row is None:
        raise NotFound(f"there is no uplift model version {version}", details=[{"field": "model"}])
    return row


def get_model(*, uow: UnitOfWork, version: int) -> UpliftModelRead:
    """One version with its holdout metrics and Qini curve."""
    return _read(_get(uow, version))


# -- scoring ---------------------------------------------------------------------------------


def score(*, uow: UnitOfWork, con: BaseBackend, version: int) -> UpliftScoreRunRead:
    """Score every line active at the end of the latest month into uplift_scores (``version``)."""
    require_province(uow)
    row = _get(uow, version)
    pair = load_model(row)
    months = warehouse_months(con)
    month = months[-1]
    started = time.perf_counter()
    ids: list[np.ndarray[Any, Any]] = []
    uplifts: list[Floats] = []
    with threadpool_limits(limits=None, user_api="openmp"):
        for id_range in _id_slices(con, SCORE_SLICE_IDS):
            expr = line_features(con, month=month, latest=month, ids=id_range)
            for batch in expr.to_pyarrow_batches(chunk_size=SCORE_BATCH_ROWS):
                if batch.num_rows == 0:
                    continue
                part = pa.Table.from_batches([batch])
                ids.append(part.column("subscriber_id").to_numpy())
                uplifts.append(pair.uplift(feature_matrix(part)))
    subscriber_ids = np.concatenate(ids).astype(np.int64) if ids else np.empty(0, np.int64)
    uplift = np.concatenate(uplifts) if uplifts else np.empty(0)
    if not len(uplift):
        raise WarehouseEmpty(f"no line was active at the end of {month:%Y-%m}; nothing to score")
    ranks = domain.uplift_ranks(uplift, subscriber_ids)
    scored_at = utcnow()
    n = len(uplift)
    scores = pa.table(
        {
            "subscriber_id": pa.array(subscriber_ids, pa.int64()),
            "model_version": pa.array(np.full(n, row.version), pa.int64()),
            "feature_month": pa.array(np.full(n, month), pa.date32()),
            "uplift": pa.array(uplift, pa.float64()),
            "uplift_rank": pa.array(ranks, pa.int64()),
            "uplift_decile": pa.array(domain.uplift_deciles(ranks), pa.int64()),
            "scored_lines": pa.array(np.full(n, n), pa.int64()),
            "scored_at": pa.array(np.full(n, scored_at), pa.timestamp("us", tz="UTC")),
        }
    )
    _replace_version(con, row.version, scores)
    row.status = domain.ModelStatus.SCORED
    row.scored_at = scored_at
    row.scored_rows = n
    row.scored_month = month
    uow.commit()
    return UpliftScoreRunRead(
        model_version=row.version,
        feature_month=month,
        rows=n,
        scored_at=scored_at,
        mean_uplift=float(uplift.mean()),
        positive_share=float((uplift > 0).mean()),
        seconds=round(time.perf_counter() - started, 3),
    )


def _id_slices(con: BaseBackend, size: int) -> list[tuple[int, int]]:
    """Consecutive ranges of at most ``size`` subscriber ids covering the subscribers table."""
    subs = con.table("subscribers")
    bounds = subs.aggregate(low=subs.subscriber_id.min(), high=subs.subscriber_id.max())
    found = bounds.to_pyarrow().to_pylist()[0]
    if found["low"] is None:
        return []
    low, high = int(found["low"]), int(found["high"])
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


def _replace_version(con: BaseBackend, version: int, scores: pa.Table) -> None:
    """Swap ``version``'s rows of ``uplift_scores`` for ``scores`` in one step; others stay."""
    staging = f"telmark_uplift_scores_new_{uuid.uuid4().hex[:8]}"
    con.create_table(staging, scores)
    try:
        new: Any = con.table(staging)
        if has_table(con, SCORES_TABLE):
            old = con.table(SCORES_TABLE)
            kept = old.filter(old.model_version != ibis.literal(version, type="int64"))
            new = kept.select(*scores.column_names).union(new, distinct=False)
        with tempfile.TemporaryDirectory(prefix="telmark-uplift-") as work:
            replace_tables(con=con, source=con, tables={SCORES_TABLE: new}, work_dir=Path(work))
    finally:
        drop(con, staging)
