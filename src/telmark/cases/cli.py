"""``telmark cases``: marketing cases — create (from a file or a template), edit, project,
submit, approve/reject, schedule, issue down the organisation, acknowledge, localise,
re-issue, run, close; timeline, inbox and acknowledgement alerts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from telmark.cases import issuing, planning, service
from telmark.cases.domain import AlertStatus, CaseAction, CaseStatus
from telmark.cases.schemas import (
    ActionIn,
    CaseCreate,
    CaseDetail,
    CaseRead,
    CaseUpdate,
    FromTemplate,
    IssueIn,
    IssueRead,
    LocaliseIn,
    ProjectionRead,
    ReissueIn,
    RejectIn,
)
from telmark.clikit import (
    JsonOpt,
    command_uow,
    command_warehouse,
    console,
    domain_errors,
    print_json,
    print_table,
)
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)
M = TypeVar("M", bound=BaseModel)

CaseArg = Annotated[int, typer.Argument(help="Case id.", show_default=False)]
IssueArg = Annotated[int, typer.Argument(help="Issue id.", show_default=False)]
FileArg = Annotated[Path, typer.Argument(help="A .json or .yaml file.", show_default=False)]
CommentOpt = Annotated[str, typer.Option("--comment", "-m", help="Comment for the timeline.")]
VersionOpt = Annotated[
    int | None, typer.Option("--version", help="Act only if the case is at this version.")
]


def _read_file(path: Path, model: type[M]) -> M:
    import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise InvalidInput(f"{path}: cannot read it as JSON or YAML: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: {where}: {first['msg']}", details=[{"field": where}]) from None


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else f"¥{fen / 100:,.2f}"


def _pct(bp: int | None) -> str:
    return "-" if bp is None else f"{bp / 100:.2f}%"


def _print_projection(p: ProjectionRead) -> None:
    state = "frozen at approval" if p.frozen else "live"
    if not p.available or p.totals is None:
        console.print(f"projection ({state}): not available")
    else:
        t = p.totals
        console.print(
            f"projection ({state}): {p.members} members, {p.targets} targets, "
            f"{p.control} control, {p.horizon_months} months"
        )
        print_table(
            "Projection",
            ["item", "value"],
            [
                ["contacts", t.contacts],
                ["takers", t.takers],
                ["incremental revenue", _yuan(t.incremental_revenue_fen)],
                ["retained revenue", _yuan(t.retained_revenue_fen)],
                ["incentive cost", _yuan(t.incentive_cost_fen)],
                ["channel cost", _yuan(t.channel_cost_fen)],
                ["net", _yuan(t.net_fen)],
                ["ROI", _pct(t.roi_bp)],
                ["payback month", "never" if t.payback_month is None else t.payback_month],
                ["budget", f"{_yuan(p.budget_fen)} (within: {p.within_budget})"],
            ],
        )
        print_table(
            "Sensitivity to take-up",
            ["take-up ×", "takers", "net", "ROI", "payback"],
            [
                [
                    _pct(s.take_up_factor_bp),
                    s.totals.takers,
                    _yuan(s.totals.net_fen),
                    _pct(s.totals.roi_bp),
                    s.totals.payback_month,
                ]
                for s in p.sensitivity
            ],
        )
    for note in p.notes:
        console.print(f"note: {note}")


def _show_case(case: CaseRead) -> None:
    waiting = f", waiting for {case.pending_level} approval" if case.pending_level else ""
    console.print(
        f"case [bold]{case.code}[/bold] (id {case.id}) {case.name}: {case.status}{waiting}, "
        f"version {case.version}, {case.level} {case.org_code}, {case.objective}, "
        f"{case.starts_on} to {case.ends_on}, budget {_yuan(case.budget_fen)}"
    )
    if case.lines:
        print_table(
            "Plan",
            ["offer", "channel", "reach", "take-up", "cost/contact"],
            [
                [
                    ln.offer_code,
                    ln.channel,
                    _pct(ln.reach_bp),
                    _pct(ln.take_up_bp),
                    _yuan(ln.contact_cost_fen),
                ]
                for ln in case.lines
            ],
        )
    console.print(f"next: {', '.join(case.next_actions) or '-'}")


def _detail(detail: CaseDetail, json_output: bool) -> None:
    if json_output:
        print_json(detail.model_dump(mode="json"))
        return
    _show_case(detail.case)
    _print_projection(detail.projection)


def _case(case: CaseRead, json_output: bool) -> None:
    if json_output:
        print_json(case.model_dump(mode="json"))
        return
    _show_case(case)


def _issues(rows: list[IssueRead], json_output: bool) -> None:
    if json_output:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    flat: list[list[Any]] = []

    def walk(nodes: list[IssueRead], depth: int) -> None:
        for n in nodes:
            who = n.org_code if n.staff_code is None else f"{n.staff_code} ({n.org_code})"
            late = " overdue" if n.overdue else ""
            flat.append([n.id, "  " * depth + who, n.target, f"{n.status}{late}", n.due_at])
            walk(n.children, depth + 1)

    walk(rows, 0)
    print_table("Issues", ["id", "to", "target", "status", "due"], flat)


@app.command("list")
def list_command(
    status: Annotated[CaseStatus | None, typer.Option("--status", help="Only this status.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List the cases in scope."""
    with command_uow() as uow:
        cases = service.list_cases(uow=uow, status=status)
    if json_output:
        print_json([c.model_dump(mode="json") for c in cases])
        return
    print_table(
        "Cases",
        ["id", "code", "name", "level", "unit", "status", "budget", "start"],
        [
            [c.id, c.code, c.name, c.level, c.org_code, c.status, _yuan(c.budget_fen), c.starts_on]
            for c in cases
        ],
    )


@app.command("show")
def show_command(case_id: CaseArg, json_output: JsonOpt = False) -> None:
    """Show a case with its projection."""
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        detail = planning.get_case(
            uow=uow, case_id=case_id, con=con, directory=settings.resolved_snapshot_dir
        )
    _detail(detail, json_output)


@app.command("projection")
def projection_command(case_id: CaseArg, json_output: JsonOpt = False) -> None:
    """Show a case's revenue projection (live until approval, then frozen)."""
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        result = planning.case_projection(
            uow=uow, case_id=case_id, con=con, directory=settings.resolved_snapshot_dir
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    _print_projection(result)


@app.command("templates")
def templates_command(json_output: JsonOpt = False) -> None:
    """List the templates for common cases."""
    templates = planning.list_templates()
    if json_output:
        print_json([t.model_dump(mode="json") for t in templates])
        return
    print_table(
        "Templates",
        ["key", "name", "objective", "channels", "days"],
        [
            [
                t.key,
                t.name,
                t.objective,
                ",".join(c["channel"] for c in t.channels),
                t.duration_days,
            ]
            for t in templates
        ],
    )


@app.command("create")
def create_command(path: FileArg, json_output: JsonOpt = False) -> None:
    """Save a draft case from a JSON/YAML file (the fields of POST /api/cases)."""
    with domain_errors():
        spec = _read_file(path, CaseCreate)
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        detail = planning.create_case(
            uow=uow, spec=spec, con=con, directory=settings.resolved_snapshot_dir
        )
    _detail(detail, json_output)


@app.command("from-template")
def from_template_command(
    template: Annotated[str, typer.Argument(help="Template key (see `cases templates`).")],
    name: Annotated[str, typer.Option("--name", help="Case name.")],
    org_code: Annotated[str, typer.Option("--org", help="Issuing unit (province or city).")],
    starts_on: Annotated[str, typer.Option("--start", help="Start date, YYYY-MM-DD.")],
    snapshot_id: Annotated[int | None, typer.Option("--snapshot", help="Snapshot id.")] = None,
    offers: Annotated[list[str] | None, typer.Option("--offer", help="Offer code.")] = None,
    budget_yuan: Annotated[int, typer.Option("--budget", help="Budget in yuan.")] = 0,
    json_output: JsonOpt = False,
) -> None:
    """Save a draft case filled from a template."""
    with domain_errors():
        try:
            start = date.fromisoformat(starts_on)
        except ValueError:
            raise InvalidInput("--start: not a date (YYYY-MM-DD)") from None
        spec = FromTemplate(
            template=template,
            name=name,
            org_code=org_code,
            snapshot_id=snapshot_id,
            offer_codes=offers or [],
            starts_on=start,
            budget_fen=budget_yuan * 100,
        )
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        detail = planning.create_from_template(
            uow=uow, spec=spec, con=con, directory=settings.resolved_snapshot_dir
        )
    _detail(detail, json_output)


@app.command("edit")
def edit_command(case_id: CaseArg, path: FileArg, json_output: JsonOpt = False) -> None:
    """Replace a draft's plan from a JSON/YAML file (the fields of PUT /api/cases/{id})."""
    with domain_errors():
        spec = _read_file(path, CaseUpdate)
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        detail = planning.update_case(
            uow=uow, case_id=case_id, spec=spec, con=con, directory=settings.resolved_snapshot_dir
        )
    _detail(detail, json_output)


@app.command("submit")
def submit_command(
    case_id: CaseArg,
    comment: CommentOpt = "",
    version: VersionOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Send a draft for approval."""
    with command_uow() as uow:
        case = service.submit(
            uow=uow, case_id=case_id, body=ActionIn(comment=comment, version=version)
        )
    _case(case, json_output)


@app.command("approve")
def approve_command(
    case_id: CaseArg,
    comment: CommentOpt = "",
    version: VersionOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Approve at your level (the CLI user acts at the province level)."""
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        case = service.approve(
            uow=uow,
            case_id=case_id,
            body=ActionIn(comment=comment, version=version),
            con=con,
            directory=settings.resolved_snapshot_dir,
        )
    _case(case, json_output)


@app.command("reject")
def reject_command(
    case_id: CaseArg,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why it is rejected.")],
    version: VersionOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Reject with a comment (the owner reworks it from the comment)."""
    with domain_errors():
        body = RejectIn(comment=comment, version=version) if comment.strip() else None
        if body is None:
            raise InvalidInput("--comment: say why the case is rejected")
    with command_uow() as uow:
        case = service.reject(uow=uow, case_id=case_id, body=body)
    _case(case, json_output)


def _life_cycle_command(action: CaseAction) -> None:
    run = service.LIFE_CYCLE[action]

    def command(
        case_id: CaseArg,
        comment: CommentOpt = "",
        version: VersionOpt = None,
        json_output: JsonOpt = False,
    ) -> None:
        with command_uow() as uow:
            case = run(uow=uow, case_id=case_id, body=ActionIn(comment=comment, version=version))
        _case(case, json_output)

    command.__doc__ = run.__doc__
    app.command(action.value)(command)


for _action in service.LIFE_CYCLE:
    _life_cycle_command(_action)


@app.command("issue")
def issue_command(
    case_id: CaseArg,
    units: Annotated[
        list[str] | None, typer.Option("--unit", help="Unit to issue to (default: all cities).")
    ] = None,
    parts: Annotated[
        list[str] | None, typer.Option("--part", help="By hand: UNIT=TARGET (repeat).")
    ] = None,
    total: Annotated[int | None, typer.Option("--total", help="Targets to split.")] = None,
    ack_hours: Annotated[int | None, typer.Option("--ack-hours", help="Deadline.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Issue a scheduled case down the organisation (split by base size unless --part)."""
    with domain_errors():
        given: dict[str, int] | None = None
        if parts:
            given = {}
            for part in parts:
                unit, _, number = part.partition("=")
                if not number.strip().isdigit():
                    raise InvalidInput(f"--part {part}: give UNIT=TARGET")
                given[unit.strip()] = int(number)
        spec = IssueIn(
            total=total,
            units=units or (list(given) if given else None),
            parts=given,
            ack_hours=ack_hours,
        )
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        case = issuing.issue(
            uow=uow, case_id=case_id, spec=spec, con=con, directory=settings.resolved_snapshot_dir
        )
        tree = issuing.issue_tree(uow=uow, case_id=case_id)
    if json_output:
        print_json(
            {
                "case": case.model_dump(mode="json"),
                "issues": [t.model_dump(mode="json") for t in tree],
            }
        )
        return
    _show_case(case)
    _issues(tree, json_output=False)


@app.command("issues")
def issues_command(case_id: CaseArg, json_output: JsonOpt = False) -> None:
    """Show the issue tree of a case."""
    with command_uow() as uow:
        tree = issuing.issue_tree(uow=uow, case_id=case_id)
    _issues(tree, json_output)


@app.command("ack")
def ack_command(issue_id: IssueArg, json_output: JsonOpt = False) -> None:
    """Acknowledge an issued case for your unit."""
    with command_uow() as uow:
        row = issuing.acknowledge(uow=uow, issue_id=issue_id)
    _issues([row], json_output)


@app.command("localise")
def localise_command(issue_id: IssueArg, path: FileArg, json_output: JsonOpt = False) -> None:
    """Localise your part from a JSON/YAML file (rule, outlets, channels)."""
    with domain_errors():
        spec = _read_file(path, LocaliseIn)
    with command_uow() as uow:
        row = issuing.localise(uow=uow, issue_id=issue_id, spec=spec)
    _issues([row], json_output)


@app.command("reissue")
def reissue_command(issue_id: IssueArg, path: FileArg, json_output: JsonOpt = False) -> None:
    """Re-issue your part from a JSON/YAML file (``to``: units or staff with targets)."""
    with domain_errors():
        spec = _read_file(path, ReissueIn)
    settings = get_settings()
    with command_warehouse() as con, command_uow() as uow:
        rows = issuing.reissue(
            uow=uow, issue_id=issue_id, spec=spec, con=con, directory=settings.resolved_snapshot_dir
        )
    _issues(rows, json_output)


@app.command("timeline")
def timeline_command(case_id: CaseArg, json_output: JsonOpt = False) -> None:
    """Every action on a case, oldest first."""
    with command_uow() as uow:
        rows = service.timeline(uow=uow, case_id=case_id)
    if json_output:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        "Timeline",
        ["#", "when", "who", "action", "from", "to", "level", "comment"],
        [
            [r.seq, r.created_at, r.actor, r.action, r.from_status, r.to_status, r.level, r.comment]
            for r in rows
        ],
    )


@app.command("inbox")
def inbox_command(json_output: JsonOpt = False) -> None:
    """Cases waiting for your approval."""
    with command_uow() as uow:
        items = service.inbox(uow=uow)
    if json_output:
        print_json([i.model_dump(mode="json") for i in items])
        return
    print_table(
        "Waiting for approval",
        ["id", "code", "name", "level", "by", "budget"],
        [
            [
                i.case.id,
                i.case.code,
                i.case.name,
                i.waiting_level,
                i.submitted_by,
                _yuan(i.case.budget_fen),
            ]
            for i in items
        ],
    )


@app.command("alerts")
def alerts_command(
    scan: Annotated[
        bool, typer.Option("--scan/--no-scan", help="Raise overdue alerts first.")
    ] = True,
    status: Annotated[
        AlertStatus | None, typer.Option("--status", help="Only this status.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Raise alerts for issues not acknowledged in time (idempotent), then list alerts."""
    with command_uow() as uow:
        raised = issuing.overdue_issues(uow=uow, now=utcnow()).raised if scan else []
        alerts = issuing.list_alerts(uow=uow, status=status)
    if json_output:
        print_json(
            {
                "raised": [a.model_dump(mode="json") for a in raised],
                "alerts": [a.model_dump(mode="json") for a in alerts],
            }
        )
        return
    if scan:
        console.print(f"raised {len(raised)} new alert(s)")
    print_table(
        "Alerts",
        ["id", "case", "unit", "status", "raised", "message"],
        [[a.id, a.case_code, a.org_code, a.status, a.raised_at, a.message] for a in alerts],
    )
