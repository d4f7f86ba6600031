"""``telmark tasks``: generate front-line tasks from a run, list, record, reassign, report.

The CLI acts with server rights (every unit's tasks), as every telmark command
does; outcomes it records name the operating-system user. Examples::

    telmark tasks generate --run-id 3
    telmark tasks list --view overdue --org C01
    telmark tasks done 42 --outcome accepted --note "办理了 5G 套餐"
    telmark tasks report --case-id 7 --by unit --json
"""

from __future__ import annotations

from typing import Annotated

import typer

from telmark.clikit import JsonOpt, command_uow, console, print_json, print_table
from telmark.config import get_settings
from telmark.execution.tasks import service
from telmark.execution.tasks.domain import Dimension, Outcome, View
from telmark.execution.tasks.schemas import CancelIn, OutcomeIn, ReassignIn, TaskRead

app = typer.Typer(no_args_is_help=True)

TaskArg = Annotated[int, typer.Argument(help="Task id.", show_default=False)]
NoteOpt = Annotated[str, typer.Option("--note", help="Why, or what the customer said.")]
VersionOpt = Annotated[
    int | None, typer.Option("--version", help="Refuse if the task is no longer at this version.")
]


def _show_task(task: TaskRead, json_output: bool) -> None:
    if json_output:
        print_json(task.model_dump(mode="json"))
        return
    outcome = f" → {task.outcome} by {task.done_by}" if task.outcome else ""
    late = " (overdue)" if task.overdue else ""
    console.print(
        f"task {task.id} [{task.state}{late}]{outcome}: case {task.case_code}, line "
        f"{task.subscriber_id}, {task.org_code}{' / ' + task.staff_code if task.staff_code else ''}"
        f", due {task.due_on}"
    )
    for event in task.history:
        console.print(f"  {event.seq}. {event.action} by {event.actor}: {event.note}")


@app.command("generate")
def generate_command(
    run_id: Annotated[int, typer.Option("--run-id", help="A complete targeting run.")],
    json_output: JsonOpt = False,
) -> None:
    """Create the tasks of a run's front-line contacts (a rerun creates nothing new)."""
    settings = get_settings()
    with command_uow() as uow, console.status("generating tasks…"):
        result = service.generate(
            uow=uow,
            run_id=run_id,
            directory=settings.resolved_targeting_dir,
            sla_days=settings.task_due_days,
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"run {run_id}: {result.considered:,} front-line contacts, {result.created:,} tasks "
        f"created, {result.existing:,} already there, {result.unplaced:,} unplaced"
    )
    if result.unplaced_units:
        console.print(
            "  units not in the org tree (run `telmark org sync`): "
            + ", ".join(result.unplaced_units)
        )


@app.command("list")
def list_command(
    view: Annotated[View, typer.Option("--view")] = View.OPEN,
    case_id: Annotated[int | None, typer.Option("--case-id")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Unit code: it and below.")] = None,
    staff: Annotated[str | None, typer.Option("--staff", help="Staff code.")] = None,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    json_output: JsonOpt = False,
) -> None:
    """List tasks: open (by due day), overdue, done or all."""
    with command_uow() as uow:
        page = service.list_tasks(
            uow=uow, view=view, case_id=case_id, org_code=org, staff_code=staff,
            offset=offset, limit=limit,
        )  # fmt: skip
    if json_output:
        print_json(page.model_dump(mode="json"))
        return
    print_table(
        f"{page.total:,} tasks ({view})",
        ["id", "case", "line", "unit", "staff", "due", "state", "outcome"],
        [
            [t.id, t.case_code, t.subscriber_id, t.org_code, t.staff_code, t.due_on,
             f"{t.state}{' overdue' if t.overdue else ''}", t.outcome]
            for t in page.tasks
        ],
    )  # fmt: skip


@app.command("show")
def show_command(task_id: TaskArg, json_output: JsonOpt = False) -> None:
    """One task with its history."""
    with command_uow() as uow:
        task = service.get_task(uow=uow, task_id=task_id)
    _show_task(task, json_output)


@app.command("done")
def done_command(
    task_id: TaskArg,
    outcome: Annotated[Outcome, typer.Option("--outcome")],
    note: NoteOpt = "",
    correct: Annotated[
        bool, typer.Option("--correct", help="Change the outcome of a done task (note needed).")
    ] = False,
    version: VersionOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Record a task's outcome (a done task is refused unless --correct)."""
    spec = OutcomeIn(outcome=outcome, note=note, version=version)
    with command_uow() as uow:
        change = service.correct_outcome if correct else service.record_outcome
        task = change(uow=uow, task_id=task_id, spec=spec)
    _show_task(task, json_output)


@app.command("reassign")
def reassign_command(
    task_id: TaskArg,
    org: Annotated[str | None, typer.Option("--org", help="Unit code.")] = None,
    staff: Annotated[str | None, typer.Option("--staff", help="Staff code.")] = None,
    note: NoteOpt = "",
    version: VersionOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Give an open task to another unit and/or member of staff."""
    spec = ReassignIn(org_code=org, staff_code=staff, note=note, version=version)
    with command_uow() as uow:
        task = service.reassign(uow=uow, task_id=task_id, spec=spec)
    _show_task(task, json_output)


@app.command("cancel")
def cancel_command(
    task_id: TaskArg, note: NoteOpt, version: VersionOpt = None, json_output: JsonOpt = False
) -> None:
    """Withdraw an open task (say why with --note)."""
    with command_uow() as uow:
        task = service.cancel(uow=uow, task_id=task_id, spec=CancelIn(note=note, version=version))
    _show_task(task, json_output)


@app.command("report")
def report_command(
    case_id: Annotated[int | None, typer.Option("--case-id")] = None,
    by: Annotated[Dimension, typer.Option("--by")] = Dimension.UNIT,
    json_output: JsonOpt = False,
) -> None:
    """Completion per unit, city, person or recorder (lowest completion first)."""
    with command_uow() as uow:
        result = service.report(uow=uow, case_id=case_id, by=by)
    if json_output:
        print_json(result.model_dump(mode="json"))
        return

    def rate(bp: int | None) -> str:
        return "—" if bp is None else f"{bp / 100:.1f}%"

    rows = [*result.rows, result.total]
    print_table(
        f"task completion by {by} as of {result.as_of}"
        + (f", case {case_id}" if case_id else ""),
        [by.value, "assigned", "done", "open", "overdue", *Outcome, "rate"],
        [
            [r.key if r is not result.total else "total", r.assigned, r.done, r.open, r.overdue,
             *(r.outcomes[o] for o in Outcome), rate(r.completion_bp)]
            for r in rows
        ],
    )  # fmt: skip
