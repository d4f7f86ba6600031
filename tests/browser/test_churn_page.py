"""The churn page in headless Chromium: train, score, and the four charts drawn offline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests._factories.churn import churn_warehouse
from tests.browser.conftest import LiveServer, PageProbe, _serve, login
from tests.browser.test_overview_page import CHART_SUMMARY, CHARTS_DRAWN

pytestmark = pytest.mark.browser

CHART_IDS = ["chart-lift", "chart-importance", "chart-calibration", "chart-risk"]


@pytest.fixture(scope="module")
def churn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app over a generated province (6,000 lines × 3 months: port-outs to learn from)."""
    root = tmp_path_factory.mktemp("churn-live")
    url = churn_warehouse(root, subscribers=6_000, months=3)
    server, thread, address = _serve(Settings(data_dir=root / "data", warehouse_url=url))
    yield LiveServer(url=address, data_dir=root)
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(autouse=True)
def signed_in(churn_server: LiveServer, probe: PageProbe) -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "analyst", roles=[Role.ANALYST], display_name="分析员")
    login(probe, churn_server.url, "analyst", "/analysis/churn?lang=en", PASSWORD)


def test_train_score_and_see_the_charts(churn_server: LiveServer, probe: PageProbe) -> None:
    page = probe.page
    assert page.locator("#no-model").is_visible()
    assert page.locator("nav").get_by_text("Churn risk").count() == 1
    page.click("#train-button")
    page.wait_for_url(churn_server.url + "/analysis/churn?done=trained")
    assert page.locator("[role=status]").inner_text().startswith("A new model version")
    assert page.locator("[data-kpi=version] .kpi-value").inner_text() == "v1"
    page.click("#score-button")
    page.wait_for_url(churn_server.url + "/analysis/churn?done=scored")
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    charts: dict[str, Any] = page.evaluate(CHART_SUMMARY, CHART_IDS)
    lift = charts["chart-lift"]
    assert [s["type"] for s in lift["series"]] == ["bar", "line", "line"]
    assert lift["xAxis"][0] == [str(d) for d in range(1, 11)]
    assert charts["chart-importance"]["series"][0]["points"] == 12
    assert [s["name"] for s in charts["chart-calibration"]["series"]] == [
        "Mean predicted",
        "Observed rate",
    ]
    risk = charts["chart-risk"]
    assert [s["name"] for s in risk["series"]] == ["High risk", "Medium risk", "Low risk"]
    assert all(s["points"] == 13 for s in risk["series"])
    assert page.locator("#versions tbody tr").count() == 1
    assert probe.errors == []
    assert probe.foreign_requests() == []
