"""The churn model on a generated province: accuracy, calibration, scores, versions, artifacts.

The generator's port-out hazard (docs/generator.md, "Churn hazard") depends on
the contract, complaints, dropped calls, plan fit, tenure and household: a
model over those features must clearly beat one that knows only tenure.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.analysis.churn import service
from telmark.analysis.churn.domain import ModelStatus
from telmark.analysis.churn.features import LABEL, churn_features
from telmark.analysis.churn.models import ChurnModel
from telmark.analysis.churn.service import fit_churn
from telmark.audit.models import AuditEntry
from telmark.errors import Conflict, Forbidden, InvalidInput, NotFound, WarehouseEmpty
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.churn import churn_warehouse

TRAIN_MONTH = date(2026, 5, 1)
LATEST = date(2026, 6, 1)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> str:
    """30,000 lines × 6 months: about 280 port-outs a month."""
    return churn_warehouse(tmp_path_factory.mktemp("churn-30k"), subscribers=30_000)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    """8,000 lines × 4 months: enough port-outs to train, quick to train often."""
    return churn_warehouse(tmp_path_factory.mktemp("churn-8k"), subscribers=8_000, months=4)


@pytest.fixture(scope="module")
def small_fit(small: str) -> service.Fitted:
    con = connect(small)
    try:
        return fit_churn(con=con)
    finally:
        con.disconnect()


@pytest.fixture
def quick_training(monkeypatch: pytest.MonkeyPatch, small_fit: service.Fitted) -> None:
    """Registry tests store one shared fit: they test versions and files, not fitting.

    The fits above call ``fit_churn`` as imported, which this replacement does not touch.
    """
    monkeypatch.setattr(service, "fit_churn", lambda **_: small_fit)


def _uow(db: sessionmaker[Session], scope: str | None = None) -> UnitOfWork:
    return UnitOfWork(db, actor=Actor(username="analyst.p", channel="cli", scope_path=scope))


@pytest.fixture(scope="module")
def fitted(province: str) -> service.Fitted:
    """One fit on the 30k province, shared by the accuracy checks (training is the slow part)."""
    con = connect(province)
    try:
        return fit_churn(con=con)
    finally:
        con.disconnect()


def test_the_model_clearly_beats_a_tenure_only_model(province: str, fitted: service.Fitted) -> None:
    assert fitted.month == TRAIN_MONTH
    assert fitted.method == "isotonic"
    # The label: lines active at the end of May that ported out in June.
    con = connect(province)
    subs = con.table("subscribers")
    june = subs.port_out_date.between(LATEST, date(2026, 6, 30))
    assert fitted.positives == subs.filter(june).count().to_pyarrow().as_py()
    con.disconnect()
    assert 100 < fitted.positives < 0.03 * fitted.rows
    assert fitted.baseline_auc > 0.5
    assert fitted.auc > 0.64
    assert fitted.auc > fitted.baseline_auc + 0.05, (fitted.auc, fitted.baseline_auc)
    lift = fitted.metrics.lift
    assert lift[0].lift > 1.8  # the riskiest tenth holds about twice the average
    assert lift[-1].cumulative_gain == pytest.approx(1.0)
    top = [f.feature for f in fitted.metrics.importance[:5]]
    assert "days_to_contract_end" in top


def test_probabilities_are_calibrated(fitted: service.Fitted) -> None:
    cal = fitted.metrics.calibration
    rows = sum(c.rows for c in cal)
    predicted = sum(c.mean_predicted * c.rows for c in cal) / rows
    observed = sum(c.observed_rate * c.rows for c in cal) / rows
    assert predicted == pytest.approx(observed, rel=0.3)
    assert cal[-1].observed_rate > 3 * cal[0].observed_rate
    assert cal[-1].mean_predicted > 3 * cal[0].mean_predicted


@pytest.mark.usefixtures("quick_training")
def test_a_stored_model_scores_every_active_line(
    db: sessionmaker[Session], small: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Features are computed in slices of subscriber ids; 8,000 lines make 6 slices here.
    monkeypatch.setattr(service, "SCORE_SLICE_IDS", 1_500)
    con = connect(small)
    with _uow(db) as uow:
        model = service.train_model(uow=uow, con=con, models_dir=tmp_path)
        assert model.version == 1
        assert model.status == "active"
        assert model.label_month == LATEST
        assert Path(model.artifact_path) == tmp_path / "churn-1.joblib"
        assert len(model.artifact_sha256) == 64
        run = service.score(uow=uow, con=con)
        assert service.get_model(uow=uow, version=1).scored_rows == run.rows
    scores = con.table(service.SCORES_TABLE)
    schema = scores.schema()
    assert [str(schema[c]) for c in schema.names[:6]] == [
        "int64", "int64", "date", "float64", "int64", "string",
    ]  # fmt: skip
    assert list(schema.names) == [
        "subscriber_id", "model_version", "feature_month", "churn_probability",
        "risk_decile", "risk_band", "scored_at",
    ]  # fmt: skip
    assert schema["scored_at"].is_timestamp()
    assert schema["scored_at"].timezone == "UTC"
    table = scores.to_pyarrow()
    subs = con.table("subscribers")
    active_ids = set(subs.filter(subs.status == "active").to_pyarrow()["subscriber_id"].to_pylist())
    scored_ids = table["subscriber_id"].to_pylist()
    assert len(scored_ids) == len(set(scored_ids)) == run.rows
    assert set(scored_ids) == active_ids
    deciles = np.asarray(table["risk_decile"])
    counts = np.bincount(deciles)[1:]
    assert len(counts) == 10
    assert counts.max() - counts.min() <= 1
    bands = table["risk_band"].to_pylist()
    assert run.bands == {b: bands.count(b) for b in ("high", "medium", "low")}
    assert run.bands["high"] == pytest.approx(0.2 * run.rows, abs=2)
    assert set(table["model_version"].to_pylist()) == {1}
    assert set(table["feature_month"].to_pylist()) == {LATEST}
    probabilities = np.asarray(table["churn_probability"])
    assert 0.002 < probabilities.mean() < 0.04
    assert probabilities[deciles == 10].mean() > 2 * probabilities[deciles == 1].mean()
    # Changes to the registry are in the audit trail (the ORM listener).
    with db() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "churn_models")
        ).all()
    assert {e.action for e in entries} >= {"create", "update"}
    assert all(e.actor_username == "analyst.p" for e in entries)
    con.disconnect()


def test_training_features_do_not_see_the_renewal_that_came_after(province: str) -> None:
    """A line renewing in June shows its new contract in the snapshot; in May it had the old one."""
    con = connect(province)
    features = churn_features(
        con, month=TRAIN_MONTH, rebuild_state=True, with_label=True
    ).to_pyarrow()
    snapshot = churn_features(
        con, month=TRAIN_MONTH, rebuild_state=False, with_label=True
    ).to_pyarrow()
    held = con.table("subscriptions").inner_join(con.table("products"), "product_id")
    renewed = held.filter(
        (held.kind == "handset_contract") & (held.start_date > date(2026, 5, 31))
    ).select("subscriber_id")
    renewed_ids = set(renewed.to_pyarrow()["subscriber_id"].to_pylist())
    rebuilt = {
        i: d
        for i, d in zip(
            features["subscriber_id"].to_pylist(),
            features["days_to_contract_end"].to_pylist(),
            strict=True,
        )
        if i in renewed_ids
    }
    leaked = {
        i: d
        for i, d in zip(
            snapshot["subscriber_id"].to_pylist(),
            snapshot["days_to_contract_end"].to_pylist(),
            strict=True,
        )
        if i in renewed_ids
    }
    assert len(rebuilt) > 30
    # The snapshot's contract runs about two years on; the one held in May ended by June.
    assert min(d for d in leaked.values() if d is not None) > 300
    # A renewal happens up to 20 days before the old contract's natural end.
    assert all(d is not None and d <= 51 for d in rebuilt.values()), rebuilt
    assert all(features[LABEL].to_pylist()[i] in (0, 1) for i in range(10))
    con.disconnect()


@pytest.mark.usefixtures("quick_training")
def test_versions_activation_and_one_active_model(
    db: sessionmaker[Session], small: str, tmp_path: Path
) -> None:
    con = connect(small)
    with _uow(db) as uow:
        first = service.train_model(uow=uow, con=con, models_dir=tmp_path, seed=0)
        second = service.train_model(uow=uow, con=con, models_dir=tmp_path, seed=1)
        assert (first.version, second.version) == (1, 2)
        listed = service.list_models(uow=uow)
        assert [(m.version, m.status) for m in listed] == [(2, "active"), (1, "retired")]
        assert service.active_model(uow=uow) is not None

        again = service.activate(uow=uow, version=1)
        assert again.status == "active"
        assert [(m.version, m.status) for m in service.list_models(uow=uow)] == [
            (2, "retired"),
            (1, "active"),
        ]
        with pytest.raises(Conflict):
            service.activate(uow=uow, version=1)
        with pytest.raises(NotFound):
            service.activate(uow=uow, version=99)
        with pytest.raises(NotFound):
            service.get_model(uow=uow, version=99)
        run = service.score(uow=uow, con=con, version=2)
        assert run.model_version == 2
    # The database refuses a second active model even if a service forgot to retire one.
    with db() as session:
        row = session.get(ChurnModel, 2)
        assert row is not None
        row.status = ModelStatus.ACTIVE
        with pytest.raises(IntegrityError):
            session.flush()
    con.disconnect()


@pytest.mark.usefixtures("quick_training")
def test_a_tampered_model_file_is_refused_and_scores_are_kept(
    db: sessionmaker[Session], small: str, tmp_path: Path
) -> None:
    con = connect(small)
    with _uow(db) as uow:
        model = service.train_model(uow=uow, con=con, models_dir=tmp_path)
        service.score(uow=uow, con=con)
    before = con.table(service.SCORES_TABLE).count().to_pyarrow().as_py()
    path = Path(model.artifact_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with _uow(db) as uow, pytest.raises(InvalidInput, match="changed since it was trained"):
        service.score(uow=uow, con=con)
    assert con.table(service.SCORES_TABLE).count().to_pyarrow().as_py() == before
    path.unlink()
    with _uow(db) as uow, pytest.raises(InvalidInput, match="cannot be read"):
        service.score(uow=uow, con=con)
    con.disconnect()


def test_city_users_may_not_train_score_or_activate(
    db: sessionmaker[Session], small: str, tmp_path: Path
) -> None:
    con = connect(small)
    with _uow(db, scope="/P/C01/") as uow:
        with pytest.raises(Forbidden, match="province-level"):
            service.train_model(uow=uow, con=con, models_dir=tmp_path)
        with pytest.raises(Forbidden):
            service.score(uow=uow, con=con)
        with pytest.raises(Forbidden):
            service.activate(uow=uow, version=1)
        assert service.list_models(uow=uow) == []
    assert not list(tmp_path.iterdir())
    con.disconnect()


def test_no_model_no_scores_and_too_little_history(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    con: BaseBackend = ibis.duckdb.connect()
    with _uow(db) as uow:
        with pytest.raises(NotFound, match="train one first"):
            service.score(uow=uow, con=con)
        with pytest.raises(WarehouseEmpty, match="no subscriber data"):
            service.train_model(uow=uow, con=con, models_dir=tmp_path)
    assert service.risk_distribution(con=con).scored is False
