"""``telmark analysis report``: the monthly report of a city as JSON, HTML, Excel or PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telmark.analysis.report import service
from telmark.analysis.report.build import build_report
from telmark.analysis.report.pages import document_html
from telmark.analysis.report.schemas import ReportRead
from telmark.analysis.report.service import ReportFormat
from telmark.clikit import JsonOpt, command_uow, command_warehouse, console, print_json, print_table
from telmark.config import get_settings
from telmark.web.i18n import normalize_locale


def _print(report: ReportRead) -> None:
    console.print(
        f"Monthly operating analysis: {report.city_name} ({report.city_code}), {report.month:%Y-%m}"
    )
    if report.kpis is None:
        missing = report.kpis_missing
        console.print(f"KPIs: {missing.message if missing else 'missing'}")
    else:
        cities = report.kpis.cities_ranked
        print_table(
            "Key figures",
            ("KPI", "value", "MoM", "YoY", "rank"),
            [
                [line.label, "-" if line.value is None else f"{line.value:,.4g}",
                 "-" if line.mom is None else f"{line.mom:+.4f}",
                 "-" if line.yoy is None else f"{line.yoy:+.4f}",
                 "-" if line.rank is None else f"{line.rank}/{cities}"]
                for line in report.kpis.lines
            ],
        )  # fmt: skip
    for risk in report.risks:
        console.print(f"risk: {risk.label}: {risk.rule} ({risk.change * 100:+.1f}%)")
    if report.segments_missing:
        console.print(f"segments: {report.segments_missing.command}")


def report_command(
    city: Annotated[
        str | None, typer.Option(help="City code (C01); default: the first city.")
    ] = None,
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM; default: the latest cube month.")
    ] = None,
    output_format: Annotated[
        ReportFormat | None, typer.Option("--format", help="html, xlsx or pdf (needs --out).")
    ] = None,
    out: Annotated[Path | None, typer.Option(dir_okay=False, help="File to write.")] = None,
    locale: Annotated[str | None, typer.Option(help="en or zh_CN (default: the server's).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Monthly operating-analysis report of a city: KPIs, ranks, risks, segments, market."""
    language = normalize_locale(locale) if locale else get_settings().default_locale
    if language is None:
        raise typer.BadParameter("use en or zh_CN", param_hint="--locale")
    fmt = output_format or (ReportFormat(out.suffix[1:]) if out and out.suffix[1:] in
                            {f.value for f in ReportFormat} else None)  # fmt: skip
    if fmt is not None and out is None:
        raise typer.BadParameter("--format needs --out FILE", param_hint="--out")
    with command_warehouse() as con, command_uow() as uow:
        first = service.month_param(month)
        if fmt in (ReportFormat.XLSX, ReportFormat.PDF):
            report, data = service.export_report(
                uow=uow, con=con, ranking_con=con, city=city, month=first,
                fmt=fmt, locale=language,
            )  # fmt: skip
        else:
            report = build_report(uow=uow, con=con, ranking_con=con, city=city, month=first)
            data = document_html(report, locale=language).encode() if fmt else b""
    if out is not None and fmt is not None:
        out.write_bytes(data)
    if json_output:
        print_json(report)
    elif out is not None and fmt is not None:
        console.print(f"wrote {out} ({fmt.value}, {len(data):,} bytes)")
    else:
        _print(report)
