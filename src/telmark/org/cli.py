"""``telmark org``: load and browse the organisation tree."""

from __future__ import annotations

from typing import Annotated

import typer

from telmark.clikit import JsonOpt, command_warehouse, console, fail, print_json, print_table
from telmark.errors import DomainError
from telmark.org import service
from telmark.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True)


@app.command()
def sync(json_output: JsonOpt = False) -> None:
    """Load org units and staff from the warehouse into the operational database."""
    with command_warehouse() as con, UnitOfWork() as uow:
        report = service.sync_from_warehouse(uow=uow, con=con)
    if json_output:
        print_json(report)
    else:
        print_table(
            "org sync",
            ["what", "created", "updated", "deactivated"],
            [
                ["org units", report.units_created, report.units_updated, report.units_deactivated],
                ["staff", report.staff_created, report.staff_updated, report.staff_deactivated],
            ],
        )


@app.command()
def tree(
    root: Annotated[str | None, typer.Option(help="Show only this unit and below.")] = None,
    depth: Annotated[int | None, typer.Option(help="Levels to show below the root.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Show the org tree."""
    try:
        with UnitOfWork() as uow:
            units = service.list_units(uow=uow, root=root, max_depth=depth)
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json([u.model_dump(mode="json") for u in units])
        return
    base = units[0].depth if units else 0
    for unit in units:
        indent = "  " * (unit.depth - base)
        console.print(
            f"{indent}{unit.name} [dim]{unit.code} · {unit.kind} · "
            f"{unit.child_count} below · {unit.staff_count} staff[/]"
        )


@app.command()
def show(code: str, json_output: JsonOpt = False) -> None:
    """Show one org unit with its ancestors and children."""
    try:
        with UnitOfWork() as uow:
            unit = service.get_unit(uow=uow, code=code)
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json(unit)
        return
    trail = " › ".join([a.name for a in unit.ancestors] + [unit.name])
    console.print(f"[bold]{trail}[/] ({unit.code}, {unit.kind}, {unit.staff_count} staff)")
    print_table(
        "children",
        ["code", "name", "kind", "below", "staff"],
        [[c.code, c.name, c.kind, c.child_count, c.staff_count] for c in unit.children],
    )


@app.command()
def staff(
    code: str,
    all_below: Annotated[bool, typer.Option("--all-below", help="Include units below.")] = False,
    limit: int = 500,
    json_output: JsonOpt = False,
) -> None:
    """List the staff of an org unit."""
    try:
        with UnitOfWork() as uow:
            people = service.list_staff(
                uow=uow, code=code, include_descendants=all_below, limit=limit
            )
    except DomainError as error:
        raise fail(error) from error
    if json_output:
        print_json([p.model_dump(mode="json") for p in people])
        return
    print_table(
        f"staff of {code}",
        ["code", "name", "unit", "level", "grade", "position"],
        [[p.code, p.name, p.org_name, p.level, p.grade, p.position] for p in people],
    )
