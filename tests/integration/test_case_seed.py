"""The demo's example cases: one at each stage, issued with one city not acknowledged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from telmark.cases import issuing, service
from telmark.cases.domain import AlertStatus, CaseStatus, IssueStatus
from telmark.cases.seed import seed_examples
from telmark.catalog.seed import seed_demo_catalog
from telmark.offers import service as offer_service
from telmark.org import service as org_service
from telmark.segments import service as segment_service
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.segments import add_analysis_tables, load_warehouse, province_directory


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("case-seed")
    con = load_warehouse(province_directory(root, subscribers=1_000, seed=6), root / "w.duckdb")
    add_analysis_tables(con, seed=6)
    con.disconnect()
    return root / "w.duckdb"


def test_seed_examples(built: Path, tmp_path: Path, db: sessionmaker[Session]) -> None:
    shutil.copy(built, tmp_path / "w.duckdb")
    con = connect("duckdb://" + str(tmp_path / "w.duckdb"))
    with UnitOfWork(db) as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
        segment_service.seed_examples(uow=uow)
        seed_demo_catalog(uow=uow, con=con)
        offer_service.seed_examples(uow=uow)
        saved = seed_examples(uow=uow, con=con, directory=tmp_path / "snapshots")
        again = seed_examples(uow=uow, con=con, directory=tmp_path / "snapshots")
        cases = {c.name: c for c in service.list_cases(uow=uow)}
        alerts = issuing.list_alerts(uow=uow)
        issued = cases["合约到期续约挽留"]
        tree = issuing.issue_tree(uow=uow, case_id=issued.id)
    con.disconnect()
    assert (saved, again) == (4, 0)
    assert {name: c.status for name, c in cases.items()} == {
        "合约到期续约挽留": CaseStatus.ISSUED,
        "4G用户5G升级": CaseStatus.SUBMITTED,
        "月末会员日": CaseStatus.SCHEDULED,
        "高流失风险挽留": CaseStatus.DRAFT,
    }
    statuses = [node.status for node in tree]
    assert statuses[-1] is IssueStatus.ISSUED
    assert set(statuses[:-1]) == {IssueStatus.ACKNOWLEDGED}
    assert [(a.org_code, a.status) for a in alerts] == [(tree[-1].org_code, AlertStatus.OPEN)]
