"""The monthly report and the market page in headless Chromium: rendered, downloadable, drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from telmark.analysis.kpi import service as kpi_service
from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe, login

pytestmark = pytest.mark.browser

SHARES_DRAWN = """
() => {
  const el = document.getElementById("chart-shares");
  if (!el || typeof echarts === "undefined") return null;
  const chart = echarts.getInstanceByDom(el);
  if (!chart) return null;
  return chart.getOption().series.map((s) => ({ name: s.name, data: s.data }));
}
"""


@pytest.fixture(autouse=True)
def signed_in(live_server: LiveServer, probe: PageProbe) -> None:
    """The cube built on the live warehouse, and a province analyst signed in."""
    con = connect("duckdb://" + str(live_server.data_dir / "warehouse.duckdb"))
    try:
        if "kpi_cube" not in con.list_tables():
            kpi_service.refresh_cube(con=con)
    finally:
        con.disconnect()
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "report.analyst", roles=[Role.ANALYST], display_name="分析员")
    login(probe, live_server.url, "report.analyst", "/", PASSWORD)


def test_report_renders_downloads_and_market_chart_draws(
    live_server: LiveServer, probe: PageProbe, tmp_path: Path
) -> None:
    page = probe.page
    page.goto(live_server.url + "/analysis/report?city=C01&lang=en")
    assert page.locator(".nav-link.active").inner_text() == "Monthly report"
    rows = page.locator("#report-kpis tbody tr")
    assert rows.count() == 12
    subscribers = page.locator("#report-kpis tr[data-kpi=subscribers] td").nth(1).inner_text()
    assert subscribers.replace(",", "").isdigit()
    assert (
        page.locator("#report-kpis tr[data-kpi=arpu_fen] td").nth(4).inner_text().endswith("/ 13")
    )
    segments = page.locator("#report-segments")
    assert segments.locator("table").count() + segments.locator("[data-missing]").count() == 1
    with page.expect_download() as download:
        page.click("text=Download Excel")
    saved = tmp_path / "report.xlsx"
    download.value.save_as(saved)
    assert saved.read_bytes()[:2] == b"PK"
    assert download.value.suggested_filename.startswith("telmark-report-C01-")

    # The market page: a share entered through the form is drawn on the trend chart.
    page.goto(live_server.url + "/market?city=C01&lang=en")
    form = page.locator("#share-form")
    form.locator("input[name=month]").fill("2024-12")
    form.locator("select[name=competitor]").select_option("china_unicom")
    form.locator("input[name=share_pct]").fill("27.5")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**done=share*")
    page.wait_for_function(SHARES_DRAWN)
    series = page.evaluate(SHARES_DRAWN)
    assert series == [{"name": "China Unicom", "data": [27.5]}]
    assert probe.errors == []
    assert probe.foreign_requests() == []
