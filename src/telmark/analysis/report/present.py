"""How report figures are written: one place for the HTML page, the Excel file and the PDF.

Values keep their KPI's unit (fen shown as yuan, fractions as percent);
changes are relative (``+3.2%``) for counts and money and in percentage
points (``+0.15 pp``) for rates, as ``telmark.analysis.kpi.domain.KPIS`` defines.
"""

from __future__ import annotations

from babel.numbers import format_currency, format_decimal, format_percent

from telmark.analysis.report.schemas import KpiLine
from telmark.translation import N_
from telmark.web.i18n import gettext_for

SECTION_TITLES = {
    "kpis": N_("Key figures"),
    "risks": N_("Risks"),
    "districts": N_("Districts with the highest churn"),
    "segments": N_("Segments at risk"),
    "market": N_("Market"),
}
COLUMN_TITLES = {
    "kpi": N_("KPI"),
    "value": N_("Value"),
    "mom": N_("Month on month"),
    "yoy": N_("Year on year"),
    "rank": N_("Rank among cities"),
}
KPI_LABELS = {
    "subscribers": N_("Subscribers"),
    "net_adds": N_("Net adds"),
    "gross_adds": N_("Gross adds"),
    "port_outs": N_("Port-outs"),
    "churn_rate": N_("Port-out churn rate"),
    "revenue_fen": N_("Revenue"),
    "arpu_fen": N_("ARPU"),
    "dou_mb": N_("DOU (MB)"),
    "mou_min": N_("MOU (min)"),
    "penetration_5g": N_("5G penetration"),
    "bundle_penetration": N_("Bundle penetration"),
    "complaint_rate": N_("Complaints per 1,000 lines"),
}


def label(line: KpiLine, locale: str) -> str:
    return gettext_for(locale, KPI_LABELS.get(line.key, line.label))


def value_text(line: KpiLine, locale: str) -> str:
    """The KPI's value for reading: yuan for fen, percent for fractions."""
    value = line.value
    if value is None:
        return "—"
    if line.format in ("yuan", "yuan_compact"):
        digits = "#,##0.00" if line.format == "yuan" else "#,##0"
        return format_currency(value / 100, "CNY", format="¤" + digits, locale=locale)
    if line.format == "percent":
        return format_percent(value, format="#,##0.00%", locale=locale)
    if line.format == "decimal":
        return format_decimal(value, format="#,##0.00", locale=locale)
    return format_decimal(value, format="#,##0", locale=locale)


def change_text(line: KpiLine, change: float | None) -> str:
    """A MoM/YoY change: relative percent, or points for rates, or lines for net adds."""
    if change is None:
        return "—"
    if line.change_kind == "relative":
        return f"{change * 100:+.1f}%"
    if line.format == "percent":
        return f"{change * 100:+.2f} pp"
    return f"{change:+,.0f}"


def change_tone(line: KpiLine, change: float | None) -> str:
    """good, bad or neutral: whether the change moved the KPI the right way."""
    if change is None or abs(change) < 1e-12:
        return "neutral"
    return "good" if (change > 0) == line.higher_is_better else "bad"


def excel_value(line: KpiLine) -> tuple[float | None, str]:
    """The value as stored in a cell (yuan, fractions) and its number format."""
    if line.value is None:
        return None, "General"
    if line.format in ("yuan", "yuan_compact"):
        return line.value / 100, "#,##0.00"
    if line.format == "percent":
        return line.value, "0.00%"
    if line.format == "decimal":
        return line.value, "#,##0.00"
    return line.value, "#,##0"


def excel_change(line: KpiLine, change: float | None) -> tuple[float | None, str]:
    """A change as stored in a cell: a fraction (relative, and rates' points) or a count."""
    if change is None:
        return None, "General"
    if line.change_kind == "relative" or line.format == "percent":
        return change, "+0.00%;-0.00%;0.00%"
    return change, "+#,##0;-#,##0;0"
