"""A case's evaluation in a real browser: the uplift-by-city and take-up charts are drawn, and
the Excel and PDF links download files that open."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from telmark.auth.models import User
from telmark.auth.permissions import Role
from telmark.cases.models import Case
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe, login
from tests.browser.test_segment_builder import CHARTS_DRAWN
from tests.integration.test_case_eval_service import build_case_world

pytestmark = pytest.mark.browser


@pytest.fixture
def evaluated_case(live_server: LiveServer, tmp_path: Path) -> int:  # noqa: ARG001 - its database
    """The integration tests' completed case (treatment, control, responses) on the server."""
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        existing = uow.session.scalar(select(Case.id).where(Case.code == "EVAL"))
        if "eval.planner" not in set(uow.session.scalars(select(User.username))):
            make_user(uow, "eval.planner", org="P00", roles=[Role.MARKETING_PLANNER])
        uow.commit()
    if existing is not None:
        return existing
    return build_case_world(None, tmp_path / "targeting").case_id


def test_the_evaluation_page_draws_its_charts_and_exports(
    live_server: LiveServer, probe: PageProbe, evaluated_case: int, tmp_path: Path
) -> None:
    page = probe.page
    login(probe, live_server.url, "eval.planner", f"/evaluation/cases/{evaluated_case}", PASSWORD)
    page.wait_for_function(CHARTS_DRAWN, arg=["uplift-chart", "curve-chart"])
    cities = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('uplift-chart'))"
        ".getOption().yAxis[0].data"
    )
    assert cities == ["南京分公司", "无锡分公司"]
    assert page.locator("#guardrails tr[data-kind='complaint']").count() == 1
    assert page.locator("#variance tr").count() == 4

    with page.expect_download() as download:
        page.click("#export-xlsx")
    saved = tmp_path / "evaluation.xlsx"
    download.value.save_as(saved)
    book = load_workbook(saved)
    assert "续约评估案" in {str(c.value) for row in book.worksheets[0].iter_rows() for c in row}
    with page.expect_download() as pdf_download:
        page.click("#export-pdf")
    pdf = tmp_path / "evaluation.pdf"
    pdf_download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert probe.errors == []
    assert probe.foreign_requests() == []
