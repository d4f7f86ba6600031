"""The overview page in headless Chromium: real charts drawn, offline, in both languages.

``TELMARK_SCREENSHOTS=1`` also saves ``docs/img/overview.png`` for the README.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests.browser.conftest import LiveServer, PageProbe, login

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def signed_in(live_server: LiveServer, probe: PageProbe) -> None:
    """A province analyst signed in through the login page (the overview needs a login)."""
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "analyst", roles=[Role.ANALYST], display_name="分析员")
    login(probe, live_server.url, "analyst", "/", PASSWORD)


CHART_IDS = ["chart-subscribers", "chart-arpu", "chart-churn", "chart-revenue"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "overview.png"

# True once every chart has an ECharts instance whose series all carry data and whose
# canvas has actually been painted (some non-transparent pixels).
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

CHART_SUMMARY = """
(ids) => Object.fromEntries(ids.map((id) => {
  const option = echarts.getInstanceByDom(document.getElementById(id)).getOption();
  return [id, {
    series: option.series.map((s) => ({ name: s.name, type: s.type, points: s.data.length })),
    xAxis: (option.xAxis || []).map((a) => a.data || null),
    yAxis: (option.yAxis || []).map((a) => a.data || null),
  }];
}))
"""


def _open(probe: PageProbe, url: str) -> dict[str, Any]:
    probe.page.goto(url)
    probe.page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    summary: dict[str, Any] = probe.page.evaluate(CHART_SUMMARY, CHART_IDS)
    return summary


def test_overview_draws_four_charts_offline(live_server: LiveServer, probe: PageProbe) -> None:
    charts = _open(probe, live_server.url + "/")
    page = probe.page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "全省经营概览"
    # 13 cities, 12 months, from the live warehouse.
    subscribers = charts["chart-subscribers"]
    assert subscribers["series"] == [{"name": "在网用户数", "type": "bar", "points": 13}]
    assert "南京" in subscribers["yAxis"][0]
    revenue = charts["chart-revenue"]
    assert len(revenue["series"]) == 13
    assert {s["type"] for s in revenue["series"]} == {"bar"}
    assert revenue["xAxis"][0][0] == "2024年1月"
    assert len(revenue["xAxis"][0]) == 12
    assert charts["chart-churn"]["series"][0]["type"] == "heatmap"
    assert charts["chart-churn"]["series"][0]["points"] == 13 * 12
    arpu = charts["chart-arpu"]["series"]
    assert arpu[0]["name"] == "全省"
    assert len(arpu) == 14  # the province and every city
    assert page.locator(".kpi").count() == 4
    assert page.locator("[data-kpi=subscribers] .kpi-value").inner_text().replace(",", "").isdigit()
    if os.environ.get("TELMARK_SCREENSHOTS") == "1":
        page.wait_for_timeout(800)  # let the entry animations finish
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert probe.errors == []
    assert probe.foreign_requests() == []


def test_switch_to_english(live_server: LiveServer, probe: PageProbe) -> None:
    _open(probe, live_server.url + "/")
    page = probe.page
    page.click("a[data-lang=en]")
    page.wait_for_url("**lang=en*")
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    charts = page.evaluate(CHART_SUMMARY, CHART_IDS)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Province overview"
    assert page.locator(".nav-link.active").inner_text() == "Overview"
    assert charts["chart-arpu"]["series"][0]["name"] == "Province"
    assert "Nanjing" in charts["chart-subscribers"]["yAxis"][0]
    assert charts["chart-revenue"]["xAxis"][0][0] == "Jan 2024"
    # The choice sticks: a plain reload stays English.
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Province overview"
    assert probe.errors == []
    assert probe.foreign_requests() == []


def test_period_switch_redraws_through_htmx(live_server: LiveServer, probe: PageProbe) -> None:
    _open(probe, live_server.url + "/")
    page = probe.page
    page.evaluate("window.__notReloaded = true")
    page.click(".segmented a[href='/?months=6']")
    page.wait_for_url("**/?months=6")
    page.wait_for_function(
        "() => { const chart = echarts.getInstanceByDom(document.getElementById('chart-revenue'));"
        " return !!chart && chart.getOption().xAxis[0].data.length === 6; }"
    )
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    assert page.evaluate("window.__notReloaded") is True  # swapped in place, no page load
    assert page.locator(".segmented a.active").inner_text() == "近6个月"
    assert probe.errors == []


def test_arpu_city_selector(live_server: LiveServer, probe: PageProbe) -> None:
    _open(probe, live_server.url + "/")
    page = probe.page
    page.select_option("#arpu-city", label="苏州")
    names = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-arpu'))"
        ".getOption().series.map((s) => s.name)"
    )
    assert names == ["全省", "苏州"]
    assert probe.errors == []
