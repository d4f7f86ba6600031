"""The monthly report as an Excel workbook (openpyxl): one sheet per section, numbers as numbers.

Money is in yuan, rates and relative changes as fractions with a percent
format, so the figures can be summed and charted in Excel as they are.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from telmark.analysis.report import present
from telmark.analysis.report.schemas import ReportRead
from telmark.translation import N_
from telmark.web.i18n import gettext_for

BOLD = Font(bold=True)


def _header(sheet: Worksheet, titles: Sequence[str]) -> None:
    sheet.append(list(titles))
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD


def _widths(sheet: Worksheet, widths: Sequence[int]) -> None:
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width


def workbook(report: ReportRead, *, locale: str) -> Workbook:
    """The report as a workbook: Summary (KPIs), Risks, Districts, Segments, Market."""

    def t(msgid: str) -> str:
        return gettext_for(locale, msgid)

    book = Workbook()
    # Fixed document dates: the same report gives the same file.
    stamp = datetime(report.month.year, report.month.month, report.month.day)  # noqa: DTZ001 - Excel dates are naive
    book.properties.created = stamp
    book.properties.modified = stamp
    book.properties.title = f"{report.city_name} {report.month:%Y-%m}"
    summary = book.active
    assert summary is not None
    summary.title = t(N_("Key figures"))[:31]
    summary.append([t(N_("Monthly operating analysis")), report.city_name, report.city_code])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([t(N_("Month")), f"{report.month:%Y-%m}"])
    summary.append([])
    if report.kpis is None:
        missing = report.kpis_missing
        summary.append([missing.message if missing else "", missing.command if missing else ""])
    else:
        _header(
            summary,
            [t(present.COLUMN_TITLES[k]) for k in ("kpi", "value", "mom", "yoy", "rank")]
            + [t(N_("Cities ranked"))],
        )
        for line in report.kpis.lines:
            value, value_format = present.excel_value(line)
            mom, mom_format = present.excel_change(line, line.mom)
            yoy, yoy_format = present.excel_change(line, line.yoy)
            summary.append(
                [present.label(line, locale), value, mom, yoy, line.rank, report.kpis.cities_ranked]
            )
            row = summary[summary.max_row]
            row[1].number_format = value_format
            row[2].number_format = mom_format
            row[3].number_format = yoy_format
        summary.append([])
        summary.append([t(N_("Changes of rates (churn, penetration) are in percentage points."))])
    _widths(summary, [30, 18, 16, 16, 16, 14])

    risks = book.create_sheet(t(N_("Risks"))[:31])
    _header(risks, [t(N_("KPI")), t(N_("Rule")), t(N_("Change")), t(N_("Value"))])
    for risk in report.risks:
        risks.append(
            [t(present.KPI_LABELS.get(risk.key, risk.label)), t(risk.rule), risk.change, risk.value]
        )
        risks[risks.max_row][2].number_format = "+0.00%;-0.00%"
    _widths(risks, [26, 52, 12, 16])

    districts = book.create_sheet(t(N_("Districts"))[:31])
    _header(
        districts,
        [t(N_("District")), t(N_("Code")), t(N_("Subscribers")), t(N_("Port-outs")),
         t(N_("Port-out churn rate"))],
    )  # fmt: skip
    for d in report.worst_districts:
        districts.append([d.name, d.org_id, d.subscribers, d.port_outs, d.churn_rate])
        districts[districts.max_row][4].number_format = "0.00%"
    _widths(districts, [20, 14, 14, 12, 18])

    segments = book.create_sheet(t(N_("Segments at risk"))[:31])
    if report.segments is None:
        missing = report.segments_missing
        segments.append([missing.message if missing else "", missing.command if missing else ""])
    else:
        _header(
            segments,
            [t(N_("Plan family")), t(N_("Payment type")), t(N_("Tenure")), t(N_("Lines")),
             t(N_("High-risk lines")), t(N_("Expected churners")),
             t(N_("Revenue at risk (yuan)")), t(N_("Mean probability"))],
        )  # fmt: skip
        for s in report.segments.segments:
            segments.append(
                [s.plan_family, s.payment_type, s.tenure_band, s.lines, s.high_risk_lines,
                 s.expected_churners, s.revenue_at_risk_fen / 100, s.mean_probability]
            )  # fmt: skip
            row = segments[segments.max_row]
            row[5].number_format = "#,##0.0"
            row[6].number_format = "#,##0.00"
            row[7].number_format = "0.0%"
    _widths(segments, [16, 14, 10, 10, 14, 16, 20, 16])

    market = book.create_sheet(t(N_("Market"))[:31])
    _header(market, [t(N_("Operator")), t(N_("Share")), t(N_("Subscribers (est.)"))])
    for series in report.market.shares:
        point = series.points[0] if series.points else None
        market.append(
            [series.competitor, None if point is None or point.share_bp is None
             else point.share_bp / 10_000, None if point is None else point.subscribers]
        )  # fmt: skip
        market[market.max_row][1].number_format = "0.00%"
    market.append([])
    _header(
        market,
        [t(N_("Competitor")), t(N_("Offer")), t(N_("Monthly fee (yuan)")), t(N_("Data (MB)")),
         t(N_("Our nearest plan")), t(N_("Our fee (yuan)")), t(N_("Fee difference (yuan)"))],
    )  # fmt: skip
    for row in report.market.offers:
        o, plan = row.offer, row.comparable
        market.append(
            [o.competitor, o.name, o.monthly_fee_fen / 100, o.data_mb,
             plan.name if plan else None, plan.monthly_fee_fen / 100 if plan else None,
             None if row.fee_difference_fen is None else row.fee_difference_fen / 100]
        )  # fmt: skip
    _widths(market, [18, 28, 18, 12, 26, 14, 20])
    return book


def workbook_bytes(report: ReportRead, *, locale: str) -> bytes:
    """The workbook as .xlsx bytes."""
    buffer = io.BytesIO()
    workbook(report, locale=locale).save(buffer)
    return buffer.getvalue()
