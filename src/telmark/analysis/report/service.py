"""Report use cases: build the report, and export it as a recorded download."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from ibis.backends import BaseBackend

from telmark.analysis.report import excel, pdf
from telmark.analysis.report.build import build_report
from telmark.analysis.report.schemas import ReportRead
from telmark.audit.service import record_export
from telmark.errors import InvalidInput
from telmark.market.domain import parse_month
from telmark.uow import UnitOfWork

ENTITY = "analysis_report"


class ReportFormat(StrEnum):
    HTML = "html"
    XLSX = "xlsx"
    PDF = "pdf"


MEDIA_TYPES = {
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.PDF: "application/pdf",
}


def month_param(value: str | None) -> date | None:
    """``YYYY-MM`` (or a date in the month) from a query or option; InvalidInput otherwise."""
    if not value:
        return None
    parsed = parse_month(value[:7])
    if parsed is None:
        raise InvalidInput(
            f"month: {value!r} is not a month (YYYY-MM)",
            details=[{"field": "month", "value": value}],
        )
    return parsed


def file_name(report: ReportRead, fmt: ReportFormat) -> str:
    return f"telmark-report-{report.city_code}-{report.month:%Y-%m}.{fmt.value}"


def export_report(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    ranking_con: BaseBackend,
    city: str | None,
    month: date | None,
    fmt: ReportFormat,
    locale: str,
) -> tuple[ReportRead, bytes]:
    """The report as an Excel or PDF file; the download is recorded in the audit trail."""
    if fmt is ReportFormat.HTML:
        raise InvalidInput("export formats are xlsx and pdf")
    report = build_report(uow=uow, con=con, ranking_con=ranking_con, city=city, month=month)
    data = (
        excel.workbook_bytes(report, locale=locale)
        if fmt is ReportFormat.XLSX
        else pdf.pdf_bytes(report, locale=locale)
    )
    record_export(
        uow=uow,
        what=f"monthly report of {report.city_code} for {report.month:%Y-%m} ({fmt.value})",
        entity_type=ENTITY,
        entity_id=f"{report.city_code}:{report.month:%Y-%m}",
        details={"format": fmt.value, "bytes": len(data), "personal_data": False},
    )
    uow.commit()
    return report, data
