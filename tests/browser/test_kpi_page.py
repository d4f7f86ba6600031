"""The KPI cube page in headless Chromium: charts drawn offline, drill-down one level.

``TELMARK_SCREENSHOTS=1`` also saves ``docs/img/kpi.png`` for the user guide.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from telmark.analysis.kpi import service
from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe, login

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "kpi.png"
CHART_IDS = ["kpi-trend", "kpi-base", "kpi-ranking", "kpi-treemap"]

CHARTS_DRAWN = """
(ids) => ids.every((id) => {
  const el = document.getElementById(id);
  if (!el || typeof echarts === "undefined") return false;
  const chart = echarts.getInstanceByDom(el);
  const canvas = el.querySelector("canvas");
  if (!chart || !canvas || canvas.width === 0) return false;
  const series = chart.getOption().series || [];
  if (series.length === 0 || !series.every((s) => (s.data || []).length > 0)) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4 * 97) if (pixels[i] > 0) painted += 1;
  return painted > 50;
})
"""

RANKING_NAMES = """
() => echarts.getInstanceByDom(document.getElementById("kpi-ranking")).getOption().yAxis[0].data
"""
TREEMAP_SIZE = """
() => echarts.getInstanceByDom(document.getElementById("kpi-treemap"))
  .getOption().series[0].data.length
"""


@pytest.fixture(autouse=True)
def signed_in(live_server: LiveServer, probe: PageProbe) -> None:
    """The cube built on the live warehouse, and a province analyst signed in."""
    con = connect("duckdb://" + str(live_server.data_dir / "warehouse.duckdb"))
    try:
        service.refresh_cube(con=con)
    finally:
        con.disconnect()
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "kpi.analyst", roles=[Role.ANALYST], display_name="分析员")
    login(probe, live_server.url, "kpi.analyst", "/", PASSWORD)


def test_kpi_page_draws_and_drills_down(live_server: LiveServer, probe: PageProbe) -> None:
    page = probe.page
    page.goto(live_server.url + "/analysis/kpi?lang=en")
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    assert page.locator(".nav-link.active").inner_text() == "KPI cube"
    assert page.locator("[aria-current=page][data-unit]").inner_text() == "Jiangsu"
    cities: list[Any] = page.evaluate(RANKING_NAMES)
    assert len(cities) == 13
    assert "Nanjing" in cities
    assert page.evaluate(TREEMAP_SIZE) == 13
    assert page.locator(".kpi-cards .kpi").count() == 12
    assert page.locator("table.kpi-children tbody tr").count() == 13
    if os.environ.get("TELMARK_SCREENSHOTS") == "1":
        page.wait_for_timeout(800)  # let the entry animations finish
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    # Drill down: Nanjing's row link swaps the body through HTMX.
    page.click("table.kpi-children a.drill >> text=Nanjing")
    page.wait_for_url("**unit=C01*")
    page.wait_for_function(
        "() => document.querySelector('[aria-current=page][data-unit]').dataset.unit === 'C01'"
    )
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    assert page.locator(".breadcrumb a").first.inner_text() == "Jiangsu"
    assert page.evaluate(TREEMAP_SIZE) >= 1
    districts: list[Any] = page.evaluate(RANKING_NAMES)
    assert all("Nanjing" not in name for name in districts)
    # A filter change re-renders the body through HTMX, keeping the unit.
    page.select_option("select[name=payment_type]", "prepaid")
    page.wait_for_url("**payment_type=prepaid*")
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    assert "unit=C01" in page.url
    assert page.locator("select[name=payment_type]").input_value() == "prepaid"
    assert probe.errors == []
    assert probe.foreign_requests() == []
