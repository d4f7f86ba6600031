"""``telmark evaluate case|league|export``: a marketing case's evaluation from the command line.

The commands are registered on the ``telmark evaluate`` app (``evaluation.cli``) and act
with server rights, as every telmark command does. Examples::

    telmark evaluate case 7 --by city --record
    telmark evaluate league --json
    telmark evaluate export 7 --format pdf -o case-7.pdf
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telmark.clikit import JsonOpt, command_uow, console, domain_errors, print_json, print_table
from telmark.config import get_settings
from telmark.evaluation.cases import service
from telmark.evaluation.cases.domain import GUARDRAIL_LABELS, Dimension
from telmark.evaluation.cases.exports import ExportFormat
from telmark.evaluation.cases.schemas import CaseEvaluationRead, CellRead


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _pts(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f}"


def _yuan(fen: float | None) -> str:
    return "—" if fen is None else f"{fen / 100:,.2f}"


def _roi_range(low: int | None, high: int | None) -> str:
    return "—" if low is None or high is None else f"{low / 100:.0f}% … {high / 100:.0f}%"


def _row(label: str, cell: CellRead) -> list[object]:
    c = cell.comparison
    return [
        label + (" *" if c.significant else ""),
        f"{cell.treatment.customers:,}", _pct(cell.treatment.rate),
        f"{cell.control.customers:,}", _pct(cell.control.rate),
        _pts(c.uplift),
        "—" if c.uplift_low is None else f"{_pts(c.uplift_low)} … {_pts(c.uplift_high)}",
        "—" if c.p_adjusted is None else f"{c.p_adjusted:.4f}",
        _yuan(cell.revenue.total_fen),
        "—" if cell.cost is None else _yuan(cell.cost.total_fen),
        "—" if cell.roi is None or cell.roi.roi_bp is None else f"{cell.roi.roi_bp / 100:.0f}%",
    ]  # fmt: skip


COLUMNS = ("", "treated", "take-up", "control", "take-up", "uplift pts", "95% CI", "p",
           "incr. revenue ¥", "cost ¥", "ROI")  # fmt: skip


def print_evaluation(read: CaseEvaluationRead) -> None:
    console.print(
        f"{read.case_code} {read.case_name} ({read.status.value}); responses up to "
        f"{read.cutoff_at:%Y-%m-%d %H:%M} UTC; horizon {read.horizon_months} months"
        + ("; your organisation's part only" if read.partial else "")
    )
    print_table("treatment against control", COLUMNS, [_row("whole case", read.overall)])
    for breakdown in read.breakdowns:
        print_table(
            f"by {breakdown.dimension.value} (p Holm-adjusted across rows)",
            COLUMNS,
            [_row(c.label or c.key or "(none)", c) for c in breakdown.cells],
        )
    print_table(
        "guardrails (a rise is bad)",
        ("", "treatment", "control", "change pts", "p", "verdict"),
        [
            [GUARDRAIL_LABELS[g.kind], _pct(g.treatment.rate), _pct(g.control.rate),
             _pts(g.comparison.uplift),
             "—" if g.comparison.p_value is None else f"{g.comparison.p_value:.4f}",
             "HARM: significant rise" if g.harmful else ""]
            for g in read.overall.guardrails
        ],
    )  # fmt: skip
    if read.detectable.actual is not None:
        console.print(
            f"This case could only detect an uplift of ≥ {read.detectable.actual * 100:.2f} points"
            + (
                f" (at the planned sizes: ≥ {read.detectable.planned * 100:.2f})"
                if read.detectable.planned is not None
                else ""
            )
            + "."
        )
    p = read.projection
    if p is not None:
        print_table(
            "projection vs actual",
            ("", "projected", "actual"),
            [
                ["contacts", f"{p.planned_contacts:,}", f"{p.actual_contacts:,}"],
                ["take-up / uplift", _pct(p.planned_take_up), _pct(p.actual_uplift)],
                ["revenue ¥", _yuan(p.planned_revenue_fen), _yuan(p.actual_revenue_fen)],
                ["cost ¥", _yuan(p.planned_cost_fen), _yuan(p.actual_cost_fen)],
                ["net ¥", _yuan(p.planned_net_fen), _yuan(p.actual_net_fen)],
                *[[f"explained by {e.part}", "", _yuan(e.fen)] for e in p.effects],
            ],
        )
    for note in read.notes:
        console.print(note)


def case_command(
    case_id: Annotated[int, typer.Argument(help="The marketing case's id.")],
    by: Annotated[
        list[Dimension] | None,
        typer.Option("--by", help="Breakdown (repeatable): city, channel, offer. Default: all."),
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record this evaluation (the case must be completed).")
    ] = False,
    comment: Annotated[str, typer.Option(help="A comment stored with the recording.")] = "",
    json_output: JsonOpt = False,
) -> None:
    """Evaluate a marketing case: treatment against control, revenue, cost, ROI, projection."""
    with domain_errors(), command_uow() as uow:
        if record:
            service.record_evaluation(uow=uow, case_id=case_id, comment=comment)
            read = service.recorded(uow=uow, case_id=case_id)
            if by is not None:
                # The recording holds every breakdown; show the ones asked for.
                shown = [b for b in read.breakdowns if b.dimension in by]
                read = read.model_copy(update={"breakdowns": shown})
        else:
            read = service.evaluate_case(
                uow=uow, case_id=case_id, by=None if by is None else [d.value for d in by]
            )
    if json_output:
        print_json(read.model_dump(mode="json"))
        return
    print_evaluation(read)
    if record:
        console.print("Evaluation recorded: the case may now be marked evaluated.")


def league_command(json_output: JsonOpt = False) -> None:
    """Cases that have run, ranked by incremental ROI (* = significant uplift)."""
    with domain_errors(), command_uow() as uow:
        rows = service.league(uow=uow)
    if json_output:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        "case league by incremental ROI",
        ("#", "case", "unit", "status", "treated / control", "uplift pts", "incr. revenue ¥",
         "cost ¥", "ROI", "ROI 95% CI", "recorded"),
        [
            [i, r.case_code + (" *" if r.significant else ""), r.org_code, r.status.value,
             f"{r.exposed_treatment:,} / {r.exposed_control:,}", _pts(r.uplift),
             _yuan(r.incremental_revenue_fen), _yuan(r.cost_fen),
             "—" if r.roi_bp is None else f"{r.roi_bp / 100:.0f}%",
             _roi_range(r.roi_low_bp, r.roi_high_bp),
             "—" if r.recorded_at is None else f"{r.recorded_at:%Y-%m-%d}"]
            for i, r in enumerate(rows, start=1)
        ],
    )  # fmt: skip


def export_command(
    case_id: Annotated[int, typer.Argument(help="The marketing case's id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The file to write.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="xlsx or pdf.")] = ExportFormat.XLSX,
) -> None:
    """Write a case's evaluation as an Excel workbook or a PDF."""
    with domain_errors(), command_uow() as uow:
        _read, data = service.export_evaluation(
            uow=uow, case_id=case_id, fmt=fmt, locale=get_settings().default_locale
        )
    output.write_bytes(data)
    console.print(f"{output}: {len(data):,} bytes")
