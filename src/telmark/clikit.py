"""Shared helpers for every Typer sub-app: JSON output, tables, errors, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from telmark.actor import cli_actor
from telmark.errors import DomainError
from telmark.uow import UnitOfWork

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from telmark.config import Settings

console = Console()
# Errors are not hard-wrapped: a message naming a file path or a command to run stays one
# line, so it can be copied and searched in logs (the terminal still wraps it on screen).
err_console = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, indent=2)


def print_json(data: Any) -> None:
    sys.stdout.write(to_json(data) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def fail(error: DomainError) -> typer.Exit:
    """Report a domain error on stderr (with its details) and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {error.message}")
    for detail in error.details[:50]:
        err_console.print("  " + ", ".join(f"{k}={v}" for k, v in detail.items()))
    if len(error.details) > 50:
        err_console.print(f"  … and {len(error.details) - 50} more")
    return typer.Exit(code=2)


@contextmanager
def domain_errors() -> Iterator[None]:
    """A domain error inside is reported by ``fail`` and exits with code 2.

    The one place a command turns a refused change into its error message, so every
    command reports problems the same way.
    """
    try:
        yield
    except DomainError as error:
        raise fail(error) from error


@contextmanager
def command_uow() -> Iterator[UnitOfWork]:
    """A unit of work acting as the CLI's user; a domain error inside exits with code 2."""
    with domain_errors(), UnitOfWork(actor=cli_actor()) as uow:
        yield uow


@contextmanager
def command_warehouse(*, settings: Settings | None = None) -> Iterator[BaseBackend]:
    """The configured warehouse, disconnected on exit; a domain error inside exits with code 2.

    Nest ``command_uow()`` inside it when a command also needs the database, so the
    unit of work ends before the warehouse connection closes.
    """
    from telmark.warehouse.connection import connect  # Ibis loads only for commands using it

    con = connect(settings=settings)
    try:
        with domain_errors():
            yield con
    finally:
        con.disconnect()


@contextmanager
def progress_bar(*, enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar; yields ``update(task_label, done, total)``.

    Disabled (no output) when stderr is not a terminal or ``enabled`` is false,
    so ``--json`` output and CI logs stay clean.
    """
    if not enabled or not err_console.is_terminal:
        yield lambda _label, _done, _total: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done, total=total)

        yield update
