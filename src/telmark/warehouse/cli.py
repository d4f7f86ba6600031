"""``telmark data``: generate a synthetic province, import BOSS exports, inspect tables."""

from __future__ import annotations

import typer

from telmark.warehouse.generator.cli import generate_command
from telmark.warehouse.importer.cli import import_command, load_command, tables_command

app = typer.Typer(no_args_is_help=True)
app.command("generate")(generate_command)
app.command("import")(import_command)
app.command("load")(load_command)
app.command("tables")(tables_command)
