"""Customer value pages in headless Chromium: build the table, draw the charts, run both fits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from telmark.auth.permissions import Role
from telmark.config import Settings
from telmark.dbcli import upgrade_database
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect
from telmark.warehouse.generator import generate_province
from telmark.warehouse.importer import load_directory
from tests._factories.auth import PASSWORD, make_user, seed_org
from tests._factories.value import cdnow_transactions
from tests.browser.conftest import LiveServer, PageProbe, _serve, login
from tests.browser.test_overview_page import CHARTS_DRAWN

pytestmark = pytest.mark.browser

VALUE_CHARTS = ["chart-tiers", "chart-units", "chart-decay", "chart-clv", "chart-cohorts"]


@pytest.fixture(scope="module")
def value_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A generated province (contracts, recharges, orders) with no customer_value yet."""
    root = tmp_path_factory.mktemp("value-live")
    generate_province(
        out_dir=root / "p", subscribers=3_000, months=6, seed=4, end_month=date(2026, 6, 1)
    )
    url = "duckdb://" + str(root / "w.duckdb")
    con = connect(url)
    load_directory(con=con, directory=root / "p")
    con.disconnect()
    server, thread, address = _serve(Settings(data_dir=root / "data", warehouse_url=url))
    yield LiveServer(url=address, data_dir=root)
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(autouse=True)
def signed_in(value_server: LiveServer, probe: PageProbe) -> None:
    upgrade_database()
    with UnitOfWork() as uow:
        seed_org(uow)
        make_user(uow, "analyst", roles=[Role.ANALYST], display_name="分析员")
    login(probe, value_server.url, "analyst", "/analysis/value?lang=en", PASSWORD)


def test_the_value_page_builds_the_table_and_draws_its_charts(
    value_server: LiveServer, probe: PageProbe
) -> None:
    page = probe.page
    page.goto(value_server.url + "/analysis/value?lang=en")
    # Not built yet: the page says how, shows no numbers, and offers to compute.
    assert page.locator("#value-not-built").is_visible()
    assert "telmark analysis value refresh" in page.locator("#value-not-built").inner_text()
    assert page.locator("#value-data").count() == 0
    page.get_by_role("button", name="Compute now").click()
    page.wait_for_selector("#tier-table", timeout=60_000)
    page.wait_for_function(CHARTS_DRAWN, arg=VALUE_CHARTS)
    rows = page.locator("#tier-table tbody tr")
    assert rows.count() == 4
    assert rows.nth(0).locator("td").nth(0).inner_text() == "VIP"
    lines = [
        int(r.replace(",", ""))
        for r in page.locator("#tier-table tbody td:nth-child(3)").all_inner_texts()
    ]
    assert sum(lines) == 3_000
    summary: dict[str, Any] = page.evaluate(
        """() => {
          const get = (id) => echarts.getInstanceByDom(document.getElementById(id)).getOption();
          return {
            tiers: get("chart-tiers").series.map((s) => s.name),
            units: get("chart-units").xAxis[0].data.length,
            cohorts: get("chart-cohorts").series.length,
            clv: get("chart-clv").series.map((s) => s.name),
          };
        }"""
    )
    assert summary["tiers"] == ["VIP", "Gold", "Star", "Non-member"]
    assert summary["units"] >= 13  # the province's cities (and its key-account centre)
    assert summary["cohorts"] >= 2
    assert len(summary["clv"]) == 2
    assert page.locator("#cohort-fits").is_visible()
    assert probe.errors == []
    assert probe.foreign_requests() == []


def test_the_fits_page_fits_typed_survivors_and_an_uploaded_file(
    value_server: LiveServer, probe: PageProbe, tmp_path: Path
) -> None:
    page = probe.page
    page.goto(value_server.url + "/analysis/fits?lang=en")
    retention = page.locator("#retention-fit")
    retention.get_by_label("Survivors", exact=True).fill("1000, 631, 468, 382, 326, 289, 262, 241")
    retention.get_by_role("button", name="Fit").click()
    # Fader & Hardie (2007), regular customers: alpha = 0.704, beta = 1.182.
    page.wait_for_function(
        "() => document.querySelector('#retention-fit [data-out=alpha]').textContent !== ''"
    )
    alpha = float(retention.locator("[data-out=alpha]").inner_text())
    beta = float(retention.locator("[data-out=beta]").inner_text())
    assert (round(alpha, 3), round(beta, 3)) == (0.704, 1.182)
    page.wait_for_function(CHARTS_DRAWN, arg=["chart-retention-fit"])

    retention.get_by_label("Survivors", exact=True).fill("1000, 1200")
    retention.get_by_role("button", name="Fit").click()
    error = retention.locator("[data-error]")
    error.wait_for(state="visible")
    assert "non-increasing" in error.inner_text()

    csv = tmp_path / "payments.csv"
    cdnow_transactions(300).to_csv(csv, index=False)
    clv = page.locator("#clv-fit")
    clv.get_by_label("File").set_input_files(str(csv))
    clv.get_by_label("Customer column").fill("msisdn")
    clv.get_by_label("Date column").fill("paid_at")
    clv.get_by_label("Value column").fill("amount")
    clv.get_by_label("Observation end").fill("2024-12-31")
    clv.get_by_label("Period length (days)").fill("7")
    clv.get_by_role("button", name="Fit").click()
    clv.locator("#clv-top tbody tr").first.wait_for()
    assert clv.locator("#clv-top tbody tr").count() == 20
    assert clv.locator("[data-out=customers]").inner_text() == "300"
    assert probe.errors == [] or all("422" in e for e in probe.errors)
    assert probe.foreign_requests() == []
