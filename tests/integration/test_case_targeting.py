"""A targeting run over the demo's marketing cases: the issued and scheduled ones are targeted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.cases import service as cases_service
from telmark.cases.domain import CaseStatus
from telmark.cases.seed import seed_examples
from telmark.catalog.seed import seed_demo_catalog
from telmark.offers import service as offer_service
from telmark.org import service as org_service
from telmark.segments import service as segment_service
from telmark.targeting import service as targeting
from telmark.targeting.domain import Step
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.segments import add_analysis_tables, load_warehouse, province_directory


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("case-targeting")
    con = load_warehouse(province_directory(root, subscribers=1_000, seed=6), root / "w.duckdb")
    add_analysis_tables(con, seed=6)
    con.disconnect()
    return root / "w.duckdb"


def test_a_run_over_the_targetable_cases(
    built: Path, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    snapshots = tmp_path / "snapshots"
    try:
        with UnitOfWork(db) as uow:
            org_service.sync_from_warehouse(uow=uow, con=con)
            segment_service.seed_examples(uow=uow)
            seed_demo_catalog(uow=uow, con=con)
            offer_service.seed_examples(uow=uow)
            seed_examples(uow=uow, con=con, directory=snapshots)
            listed = cases_service.list_cases(uow=uow)
            inputs = cases_service.targeting_inputs(uow=uow)
            targetable = {
                c.id for c in listed if c.status in (CaseStatus.ISSUED, CaseStatus.SCHEDULED)
            }
            assert {c.case_id for c in inputs} == targetable
            assert len(targetable) == 2
            # A day inside every case's dates.
            day = max(c.starts_on for c in inputs)
            assert day <= min(c.ends_on for c in inputs)
            run = targeting.run_targeting(
                uow=uow, con=con, cases=inputs, run_key="cases-1", on=day,
                directory=tmp_path / "lists", snapshot_dir=snapshots, holdout_key="k",
            )  # fmt: skip
            again = targeting.run_targeting(
                uow=uow, con=con, cases=inputs, run_key="cases-1", on=day,
                directory=tmp_path / "lists", snapshot_dir=snapshots, holdout_key="k",
            )  # fmt: skip
    finally:
        con.disconnect()
    assert run.summary is not None
    funnel = {f.case_id: {s.step: s.count for s in f.steps} for f in run.summary.funnel}
    for case_id in targetable:
        steps = funnel[case_id]
        # Each case starts from its frozen snapshot and ends with a list no larger.
        assert steps[Step.SNAPSHOT] > 0
        assert 0 < steps[Step.LISTS] <= steps[Step.SNAPSHOT]
    assert run.contacts is not None
    assert run.contacts > 0
    assert (again.id, again.sha256) == (run.id, run.sha256)  # a rerun returns the same lists
