"""Customer 360 in headless Chromium: found from the search page, charts drawn, unmask switch.

A service agent (customer pages and unmasking, no overview) signs in, looks a
customer up by mobile number in English, opens the 360 page from the result
and sees four usage charts whose series equal the customer's warehouse rows.
"""

from __future__ import annotations

from typing import Any

import pytest

from telmark.auth.permissions import Role
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests._factories.warehouse import sample_tables
from tests.browser.conftest import LiveServer, PageProbe, login

pytestmark = pytest.mark.browser

CHART_IDS = ["chart-arpu", "chart-data", "chart-voice", "chart-dropped"]
# Every chart has an ECharts instance with data and a painted canvas.
CHARTS_DRAWN = """
(ids) => ids.every((id) => {
  const el = document.getElementById(id);
  if (!el || typeof echarts === "undefined") return false;
  const chart = echarts.getInstanceByDom(el);
  const canvas = el.querySelector("canvas");
  if (!chart || !canvas || canvas.width === 0) return false;
  const series = chart.getOption().series || [];
  if (series.length !== 1 || (series[0].data || []).length === 0) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4 * 97) if (pixels[i] > 0) painted += 1;
  return painted > 50;
})
"""
SERIES = """
(ids) => Object.fromEntries(ids.map((id) => {
  const s = echarts.getInstanceByDom(document.getElementById(id)).getOption().series[0];
  return [id, { name: s.name, data: s.data }];
}))
"""


def _customer_with_a_full_year() -> tuple[int, str, list[dict[str, Any]]]:
    """A line of the live server's province billed in all 12 months, with its usage rows."""
    tables = sample_tables(subscribers=6_000, months=12)
    usage = tables["usage_monthly"].to_pylist()
    by_line: dict[int, list[dict[str, Any]]] = {}
    for row in usage:
        by_line.setdefault(row["subscriber_id"], []).append(row)
    sid = next(s for s, rows in sorted(by_line.items()) if len(rows) == 12)
    msisdn = next(
        r["msisdn"] for r in tables["subscribers"].to_pylist() if r["subscriber_id"] == sid
    )
    return sid, msisdn, sorted(by_line[sid], key=lambda r: r["month"])


@pytest.fixture(autouse=True)
def signed_in(live_server: LiveServer, probe: PageProbe) -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "agent360", roles=[Role.SERVICE_AGENT], display_name="客服")
    # A service agent has no overview: the login lands on the customer search.
    login(probe, live_server.url, "agent360", "/customers", PASSWORD)


def test_open_a_customer_from_the_search_page(live_server: LiveServer, probe: PageProbe) -> None:
    sid, msisdn, usage = _customer_with_a_full_year()
    page = probe.page
    page.goto(live_server.url + "/customers?lang=en")
    assert page.locator("h1").inner_text() == "Customer 360"
    page.fill("input[name=msisdn]", msisdn)
    page.click("#customer-search button[type=submit]")
    row = page.locator(f"tr[data-subscriber='{sid}']")
    masked = msisdn[:3] + "****" + msisdn[-4:]
    assert row.locator("code.msisdn").inner_text() == masked

    row.locator(f"a[href='/customers/{sid}']").click()
    page.wait_for_url(f"{live_server.url}/customers/{sid}")
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    series = page.evaluate(SERIES, CHART_IDS)
    assert series["chart-arpu"] == {
        "name": "ARPU (yuan)",
        "data": [r["arpu_fen"] / 100 for r in usage],
    }
    assert series["chart-data"]["data"] == [r["data_mb"] for r in usage]
    assert series["chart-voice"]["data"] == [r["voice_min"] for r in usage]
    assert series["chart-dropped"]["data"] == [r["dropped_calls"] for r in usage]
    assert page.locator("[data-fact=msisdn] dd").inner_text() == masked
    # Analysis tables are not built in this warehouse: the page says so, with the command.
    assert "telmark analysis value refresh" in page.locator("#value").inner_text()

    page.click("#mask-off")
    page.wait_for_url(f"{live_server.url}/customers/{sid}?unmask=true")
    assert page.locator("[data-fact=msisdn] dd").inner_text() == msisdn
    assert page.locator("#unmasked-notice").is_visible()
    page.wait_for_function(CHARTS_DRAWN, arg=CHART_IDS)
    assert probe.errors == []
    assert probe.foreign_requests() == []
