"""The monthly report as a PDF (reportlab), in Chinese or English without any system font.

Text is set in reportlab's built-in CID font STSong-Light (Adobe's Chinese
font pack, which every PDF reader supplies), so Chinese renders on a server
with no fonts installed. The document is built ``invariant`` (no creation
time or random id), so the same report gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from telmark.analysis.report import present
from telmark.analysis.report.schemas import ReportRead
from telmark.translation import N_
from telmark.web.i18n import gettext_for

FONT = "STSong-Light"
_registered = False


def _font() -> str:
    global _registered  # noqa: PLW0603 - register the CID font once per process
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _styles() -> tuple[ParagraphStyle, ParagraphStyle, ParagraphStyle, ParagraphStyle]:
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=18, leading=24, spaceAfter=4)
    heading = ParagraphStyle(
        "heading", fontName=font, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4
    )
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13)
    muted = ParagraphStyle("muted", parent=body, textColor=colors.HexColor("#6b7487"))
    return title, heading, body, muted


def _table(rows: Sequence[Sequence[object]], widths: Sequence[float]) -> Table:
    table = Table([[("" if c is None else str(c)) for c in row] for row in rows], colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _font()),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f8")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d5dbe5")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:,.2f}"


def pdf_bytes(report: ReportRead, *, locale: str) -> bytes:
    """The report as PDF bytes (A4 portrait)."""

    def t(msgid: str) -> str:
        return gettext_for(locale, msgid)

    title, heading, body, muted = _styles()
    name = (report.city_name_en or report.city_name) if locale == "en" else report.city_name
    story: list[Flowable] = [
        Paragraph(f"{t(N_('Monthly operating analysis'))} · {name}", title),
        Paragraph(f"{report.month:%Y-%m} · {report.city_code}", muted),
        Spacer(1, 4 * mm),
        Paragraph(t(present.SECTION_TITLES["kpis"]), heading),
    ]
    if report.kpis is None:
        missing = report.kpis_missing
        if missing:
            story.append(Paragraph(f"{missing.message} ({missing.command})", body))
    else:
        cities = report.kpis.cities_ranked
        rows: list[list[object]] = [
            [t(present.COLUMN_TITLES[k]) for k in ("kpi", "value", "mom", "yoy", "rank")]
        ]
        rows += [
            [
                present.label(line, locale),
                present.value_text(line, locale),
                present.change_text(line, line.mom),
                present.change_text(line, line.yoy),
                "—" if line.rank is None else f"{line.rank} / {cities}",
            ]
            for line in report.kpis.lines
        ]
        story.append(_table(rows, [58 * mm, 34 * mm, 30 * mm, 30 * mm, 28 * mm]))
    story.append(Paragraph(t(present.SECTION_TITLES["risks"]), heading))
    if report.risks:
        for risk in report.risks:
            label = t(present.KPI_LABELS.get(risk.key, risk.label))
            story.append(Paragraph(f"• {label}: {t(risk.rule)} ({risk.change * 100:+.1f}%)", body))
    else:
        story.append(Paragraph(t(N_("No KPI crossed a risk threshold this month.")), muted))
    if report.worst_districts:
        story.append(Paragraph(t(present.SECTION_TITLES["districts"]), heading))
        rows = [[t(N_("District")), t(N_("Subscribers")), t(N_("Port-outs")), t(N_("Churn"))]]
        rows += [
            [
                (d.name_en or d.name) if locale == "en" else d.name,
                f"{d.subscribers:,}",
                f"{d.port_outs:,}",
                "—" if d.churn_rate is None else f"{d.churn_rate * 100:.2f}%",
            ]
            for d in report.worst_districts
        ]
        story.append(_table(rows, [70 * mm, 36 * mm, 36 * mm, 36 * mm]))
    story.append(Paragraph(t(present.SECTION_TITLES["segments"]), heading))
    if report.segments is None:
        missing = report.segments_missing
        if missing:
            story.append(Paragraph(f"{t(missing.message)} {missing.command}", body))
    else:
        rows = [
            [t(N_("Plan family")), t(N_("Payment type")), t(N_("Tenure")), t(N_("Lines")),
             t(N_("Expected churners")), t(N_("Revenue at risk"))]
        ]  # fmt: skip
        rows += [
            [s.plan_family, s.payment_type, s.tenure_band, f"{s.lines:,}",
             f"{s.expected_churners:,.1f}", _yuan(s.revenue_at_risk_fen)]
            for s in report.segments.segments
        ]  # fmt: skip
        story.append(_table(rows, [34 * mm, 28 * mm, 20 * mm, 22 * mm, 32 * mm, 40 * mm]))
    story.append(Paragraph(t(present.SECTION_TITLES["market"]), heading))
    if report.market.shares:
        shares = ", ".join(
            f"{s.competitor} {s.points[0].share_bp / 100:.2f}%"
            for s in report.market.shares
            if s.points and s.points[0].share_bp is not None
        )
        story.append(Paragraph(shares or "—", body))
    if report.market.offers:
        rows = [[t(N_("Offer")), t(N_("Monthly fee")), t(N_("Our nearest plan")), t(N_("Our fee"))]]
        rows += [
            [f"{r.offer.competitor} {r.offer.name}", _yuan(r.offer.monthly_fee_fen),
             r.comparable.name if r.comparable else "—",
             _yuan(r.comparable.monthly_fee_fen if r.comparable else None)]
            for r in report.market.offers
        ]  # fmt: skip
        story.append(_table(rows, [62 * mm, 28 * mm, 58 * mm, 28 * mm]))
    if not report.market.shares and not report.market.offers:
        story.append(
            Paragraph(t(N_("No market inputs were entered for this city and month.")), muted)
        )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{report.city_name} {report.month:%Y-%m}",
        invariant=1,
    )
    document.build(story)
    return buffer.getvalue()
