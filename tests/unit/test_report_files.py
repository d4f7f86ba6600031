"""The report's Excel and PDF renderings of a given report (no warehouse, no database)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from telmark.analysis.report import excel, pdf
from telmark.analysis.report.schemas import (
    KpiLine,
    KpiSection,
    MarketSection,
    Missing,
    ReportRead,
    Risk,
)
from tests._factories.report import pdf_literal, pdf_text_streams


def report(*, with_kpis: bool = True) -> ReportRead:
    lines = [
        KpiLine(key="subscribers", label="Subscribers", value=123_456, format="number",
                change_kind="relative", higher_is_better=True, mom=0.012, yoy=None, rank=2),
        KpiLine(key="arpu_fen", label="ARPU", value=4_850, format="yuan",
                change_kind="relative", higher_is_better=True, mom=-0.03, yoy=0.01, rank=5),
        KpiLine(key="churn_rate", label="Port-out churn rate", value=0.0123, format="percent",
                change_kind="difference", higher_is_better=False, mom=0.0015, yoy=None, rank=9),
    ]  # fmt: skip
    return ReportRead(
        city_code="C05",
        city_name="徐州",
        city_name_en="Xuzhou",
        month=date(2026, 5, 1),
        generated_at=datetime(2026, 6, 2, tzinfo=UTC),
        kpis=KpiSection(lines=lines, cities_ranked=13, yoy_available=True) if with_kpis else None,
        kpis_missing=None
        if with_kpis
        else Missing(what="kpi_cube", message="no cube", command="telmark analysis kpi refresh"),
        risks=[
            Risk(
                key="arpu_fen",
                label="ARPU",
                rule="ARPU down 2 percent or more on the month before",
                change=-0.03,
                value=4850,
            )
        ],
        worst_districts=[],
        segments=None,
        segments_missing=Missing(what="churn_scores", message="no scores", command="x"),
        market=MarketSection(shares=[], market_size=None, offers=[]),
    )


def test_the_workbook_holds_numbers_with_units_and_formats() -> None:
    book = load_workbook(io.BytesIO(excel.workbook_bytes(report(), locale="en")))
    sheet = book["Key figures"]
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=5) if r[0].value}
    assert rows["Subscribers"][1].value == 123_456
    assert rows["ARPU"][1].value == 48.5  # yuan
    assert rows["ARPU"][2].value == -0.03
    assert rows["Port-out churn rate"][1].number_format == "0.00%"
    assert rows["Port-out churn rate"][4].value == 9
    assert rows["Port-out churn rate"][5].value == 13
    assert book["Risks"]["A2"].value == "ARPU"
    # Missing sections say what to run instead of showing figures.
    bare = load_workbook(io.BytesIO(excel.workbook_bytes(report(with_kpis=False), locale="en")))
    assert bare["Key figures"]["B4"].value == "telmark analysis kpi refresh"


def test_the_pdf_sets_chinese_text_in_the_builtin_cid_font() -> None:
    data = pdf.pdf_bytes(report(), locale="zh_CN")
    assert data.startswith(b"%PDF-")
    assert b"/STSong-Light" in data
    text = b"".join(pdf_text_streams(data))
    assert pdf_literal("徐州") in text
    assert pdf.pdf_bytes(report(), locale="zh_CN") == data  # invariant: same report, same bytes
