"""A case evaluation as an Excel workbook (openpyxl) and a PDF (reportlab), in zh-CN or English.

The approach is the monthly report's (``analysis.report``): numbers stay numbers in Excel
(rates as fractions with a percent format, money in yuan), and the PDF sets its text in
reportlab's built-in CID font STSong-Light, so Chinese renders without any system font.
Both documents are reproducible: their dates are the evaluation's cut-off, and the PDF is
built ``invariant``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from enum import StrEnum

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from telmark.analysis.report.pdf import _font
from telmark.evaluation.cases.domain import DIMENSION_LABELS, GUARDRAIL_LABELS
from telmark.evaluation.cases.schemas import CaseEvaluationRead, CellRead
from telmark.translation import N_
from telmark.web.i18n import gettext_for


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"


MEDIA_TYPES = {
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PDF: "application/pdf",
}
BOLD = Font(bold=True)
PERCENT = "0.00%"
YUAN = "#,##0.00"
EFFECT_LABELS = {
    "size": N_("Size (exposed against planned)"),
    "take_up": N_("Take-up (measured uplift against expected take-up)"),
    "value": N_("Value (revenue per taker)"),
    "cost": N_("Cost"),
}
CELL_TITLES = (
    N_("Key"), N_("Exposed, treatment"), N_("Exposed, control"), N_("Take-up, treatment"),
    N_("Take-up, control"), N_("Uplift"), N_("95% CI low"), N_("95% CI high"),
    N_("Relative uplift"), N_("p (adjusted)"), N_("Significant"),
    N_("Incremental revenue (yuan)"), N_("Cost (yuan)"), N_("Incremental ROI"),
)  # fmt: skip


def file_name(read: CaseEvaluationRead, fmt: ExportFormat) -> str:
    return f"evaluation-{read.case_code}-{read.cutoff_at:%Y%m%d}.{fmt.value}"


def _yuan(fen: float | None) -> float | None:
    return None if fen is None else fen / 100


def _bp(value: int | None) -> float | None:
    return None if value is None else value / 10_000


def _cell_values(cell: CellRead, key: str) -> list[object]:
    c = cell.comparison
    return [
        key, cell.treatment.customers, cell.control.customers, cell.treatment.rate,
        cell.control.rate, c.uplift, c.uplift_low, c.uplift_high, c.relative, c.p_adjusted,
        "✓" if c.significant else "", _yuan(cell.revenue.total_fen),
        None if cell.cost is None else _yuan(cell.cost.total_fen),
        None if cell.roi is None else _bp(cell.roi.roi_bp),
    ]  # fmt: skip


CELL_FORMATS = (None, "#,##0", "#,##0", PERCENT, PERCENT, PERCENT, PERCENT, PERCENT, PERCENT,
                "0.0000", None, YUAN, YUAN, PERCENT)  # fmt: skip


def _header(sheet: Worksheet, titles: Sequence[str]) -> None:
    sheet.append(list(titles))
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD


def _append(sheet: Worksheet, values: Sequence[object], formats: Sequence[str | None]) -> None:
    sheet.append(list(values))
    for cell, fmt in zip(sheet[sheet.max_row], formats, strict=False):
        if fmt is not None:
            cell.number_format = fmt


def workbook(read: CaseEvaluationRead, *, locale: str) -> Workbook:
    """Summary (the whole case and each breakdown), Guardrails, Projection, Curve."""

    def t(msgid: str) -> str:
        return gettext_for(locale, msgid)

    book = Workbook()
    stamp = read.cutoff_at.replace(tzinfo=None)  # Excel's dates are naive
    book.properties.created = stamp
    book.properties.modified = stamp
    book.properties.title = f"{read.case_code} {read.case_name}"
    summary = book.active
    assert summary is not None
    summary.title = t(N_("Evaluation"))[:31]
    summary.append([t(N_("Case evaluation")), read.case_code, read.case_name])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([t(N_("Data up to")), f"{read.cutoff_at:%Y-%m-%d %H:%M} UTC"])
    summary.append([t(N_("Horizon (months)")), read.horizon_months])
    if read.partial:
        summary.append([t(N_("Your organisation's part of the case only."))])
    detect = read.detectable
    if detect.actual is not None:
        summary.append([t(N_("This case could only detect an uplift of at least")), detect.actual])
        summary.cell(summary.max_row, 2).number_format = PERCENT
    summary.append([])
    _header(summary, [t(x) for x in CELL_TITLES])
    _append(summary, _cell_values(read.overall, t(N_("Whole case"))), CELL_FORMATS)
    for breakdown in read.breakdowns:
        summary.append([])
        summary.append([t(DIMENSION_LABELS[breakdown.dimension])])
        summary.cell(summary.max_row, 1).font = BOLD
        for cell in breakdown.cells:
            label = cell.label or cell.key or t(N_("(none named)"))
            _append(summary, _cell_values(cell, label), CELL_FORMATS)
    for note in read.notes:
        summary.append([t(note)])
    summary.column_dimensions["A"].width = 28

    guard = book.create_sheet(t(N_("Guardrails"))[:31])
    titles = (N_("Guardrail"), N_("Treatment"), N_("Control"), N_("Change"), N_("95% CI low"),
              N_("95% CI high"), N_("p"), N_("Harm"))  # fmt: skip
    _header(guard, [t(x) for x in titles])
    for g in read.overall.guardrails:
        c = g.comparison
        _append(
            guard,
            [t(GUARDRAIL_LABELS[g.kind]), g.treatment.rate, g.control.rate, c.uplift,
             c.uplift_low, c.uplift_high, c.p_value, t(N_("Rise")) if g.harmful else ""],
            (None, PERCENT, PERCENT, PERCENT, PERCENT, PERCENT, "0.0000", None),
        )  # fmt: skip
    guard.column_dimensions["A"].width = 20

    if read.projection is not None:
        p = read.projection
        sheet = book.create_sheet(t(N_("Projection vs actual"))[:31])
        _header(sheet, [t(N_("Figure")), t(N_("Projected")), t(N_("Actual"))])
        for label, planned, actual, fmt in (
            (N_("Contacts"), p.planned_contacts, p.actual_contacts, "#,##0"),
            (N_("Take-up / uplift"), p.planned_take_up, p.actual_uplift, PERCENT),
            (N_("Monthly revenue per taker (yuan)"), _yuan(p.planned_value_fen),
             _yuan(p.actual_value_fen), YUAN),
            (N_("Revenue (yuan)"), _yuan(p.planned_revenue_fen), _yuan(p.actual_revenue_fen), YUAN),
            (N_("Cost (yuan)"), _yuan(p.planned_cost_fen), _yuan(p.actual_cost_fen), YUAN),
            (N_("Net (yuan)"), _yuan(p.planned_net_fen), _yuan(p.actual_net_fen), YUAN),
            (N_("ROI"), _bp(p.planned_roi_bp), _bp(p.actual_roi_bp), PERCENT),
        ):  # fmt: skip
            _append(sheet, [t(label), planned, actual], (None, fmt, fmt))
        sheet.append([])
        _header(sheet, [t(N_("Variance explained by")), t(N_("Net (yuan)"))])
        for effect in p.effects:
            _append(sheet, [t(EFFECT_LABELS[effect.part]), _yuan(effect.fen)], (None, YUAN))
        sheet.column_dimensions["A"].width = 44

    curve = book.create_sheet(t(N_("Take-up by day"))[:31])
    _header(curve, [t(N_("Days since exposure")), t(N_("Treatment")), t(N_("Control"))])
    for point in read.curve:
        _append(curve, [point.day, point.treatment, point.control], (None, PERCENT, PERCENT))
    return book


def xlsx_bytes(read: CaseEvaluationRead, *, locale: str) -> bytes:
    buffer = io.BytesIO()
    workbook(read, locale=locale).save(buffer)
    return buffer.getvalue()


# -- PDF ---------------------------------------------------------------------------------------


def _pdf_table(rows: Sequence[Sequence[object]], widths: Sequence[float]) -> Table:
    table = Table([[("" if c is None else str(c)) for c in row] for row in rows], colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _font()),
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f8")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d5dbe5")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def _pts(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f}"


def _money(fen: float | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:,.0f}"


def _roi(cell: CellRead) -> str:
    return "—" if cell.roi is None or cell.roi.roi_bp is None else f"{cell.roi.roi_bp / 100:.0f}%"


def _pdf_cells(cells: Sequence[tuple[str, CellRead]], t: Callable[[str], str]) -> Table:
    rows: list[list[object]] = [
        [t(N_("Key")), t(N_("Treatment")), t(N_("Control")), t(N_("Uplift (points)")),
         t(N_("95% CI")), "p", t(N_("Incremental revenue")), t(N_("Cost")), "ROI"]
    ]  # fmt: skip
    for label, cell in cells:
        c = cell.comparison
        rows.append(
            [label,
             f"{_pct(cell.treatment.rate)} / {cell.treatment.customers:,}",
             f"{_pct(cell.control.rate)} / {cell.control.customers:,}",
             _pts(c.uplift) + (" *" if c.significant else ""),
             f"{_pts(c.uplift_low)} … {_pts(c.uplift_high)}",
             "—" if c.p_adjusted is None else f"{c.p_adjusted:.4f}",
             _money(cell.revenue.total_fen),
             "—" if cell.cost is None else _money(cell.cost.total_fen),
             _roi(cell)]
        )  # fmt: skip
    return _pdf_table(rows, [40 * mm, 34 * mm, 34 * mm, 24 * mm, 34 * mm, 18 * mm, 30 * mm,
                             26 * mm, 20 * mm])  # fmt: skip


def pdf_bytes(read: CaseEvaluationRead, *, locale: str) -> bytes:
    """The evaluation as PDF bytes (A4 landscape: the tables are wide)."""

    def t(msgid: str) -> str:
        return gettext_for(locale, msgid)

    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=17, leading=22, spaceAfter=4)
    heading = ParagraphStyle("heading", fontName=font, fontSize=12, leading=16, spaceBefore=8,
                             spaceAfter=4)  # fmt: skip
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    story: list[Flowable] = [
        Paragraph(f"{t(N_('Case evaluation'))} · {read.case_code} {read.case_name}", title),
        Paragraph(
            f"{t(N_('Data up to'))} {read.cutoff_at:%Y-%m-%d %H:%M} UTC · "
            f"{t(N_('Horizon (months)'))} {read.horizon_months}",
            body,
        ),
    ]
    if read.partial:
        story.append(Paragraph(t(N_("Your organisation's part of the case only.")), body))
    if read.detectable.actual is not None:
        story.append(
            Paragraph(
                t(N_("This case could only detect an uplift of at least %(points)s points."))
                % {"points": f"{read.detectable.actual * 100:.2f}"},
                body,
            )
        )
    story += [Spacer(1, 3 * mm), Paragraph(t(N_("Take-up, treatment against control")), heading)]
    story.append(_pdf_cells([(t(N_("Whole case")), read.overall)], t))
    for breakdown in read.breakdowns:
        story.append(Paragraph(t(DIMENSION_LABELS[breakdown.dimension]), heading))
        story.append(
            _pdf_cells([(c.label or c.key or t(N_("(none named)")), c) for c in breakdown.cells], t)
        )
    story.append(Paragraph(t(N_("Guardrails")), heading))
    rows: list[list[object]] = [[t(N_("Guardrail")), t(N_("Treatment")), t(N_("Control")),
                                 t(N_("Change (points)")), "p", t(N_("Harm"))]]  # fmt: skip
    for g in read.overall.guardrails:
        rows.append(
            [t(GUARDRAIL_LABELS[g.kind]), _pct(g.treatment.rate), _pct(g.control.rate),
             _pts(g.comparison.uplift),
             "—" if g.comparison.p_value is None else f"{g.comparison.p_value:.4f}",
             t(N_("Rise")) if g.harmful else ""]
        )  # fmt: skip
    story.append(_pdf_table(rows, [50 * mm, 36 * mm, 36 * mm, 36 * mm, 24 * mm, 24 * mm]))
    if read.projection is not None:
        p = read.projection
        story.append(Paragraph(t(N_("Projection vs actual")), heading))
        rows = [[t(N_("Figure")), t(N_("Projected")), t(N_("Actual"))],
                [t(N_("Contacts")), f"{p.planned_contacts:,}", f"{p.actual_contacts:,}"],
                [t(N_("Take-up / uplift")), _pct(p.planned_take_up), _pct(p.actual_uplift)],
                [t(N_("Revenue")), _money(p.planned_revenue_fen), _money(p.actual_revenue_fen)],
                [t(N_("Cost")), _money(p.planned_cost_fen), _money(p.actual_cost_fen)],
                [t(N_("Net")), _money(p.planned_net_fen), _money(p.actual_net_fen)]]  # fmt: skip
        rows += [[t(EFFECT_LABELS[e.part]), "", _money(e.fen)] for e in p.effects]
        story.append(_pdf_table(rows, [90 * mm, 40 * mm, 40 * mm]))
    for note in read.notes:
        story.append(Paragraph(t(note), body))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
        topMargin=12 * mm, bottomMargin=12 * mm, title=f"{read.case_code} {read.case_name}",
        invariant=1,
    )  # fmt: skip
    document.build(story)
    return buffer.getvalue()


def export(read: CaseEvaluationRead, fmt: ExportFormat, *, locale: str) -> bytes:
    if fmt is ExportFormat.XLSX:
        return xlsx_bytes(read, locale=locale)
    return pdf_bytes(read, locale=locale)
