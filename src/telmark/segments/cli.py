"""``telmark segments``: validate and count a segment rule, print the rule JSON Schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from telmark.clikit import JsonOpt, command_warehouse, console, domain_errors, print_json
from telmark.errors import InvalidInput
from telmark.segments.compile import count, resolve_as_of
from telmark.segments.rules import RuleDocument, parse_rule_text, rule_json_schema

app = typer.Typer(no_args_is_help=True)

RuleOpt = Annotated[
    Path, typer.Option("--rule", help="Rule document: a .json or .yaml file.", show_default=False)
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="As-of month, YYYY-MM (default: the latest usage month)."),
]


def read_rule(path: Path) -> RuleDocument:
    """The validated rule in ``path``; InvalidInput names the file (and the bad node)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: cannot read the rule file: {error}") from None
    return parse_rule_text(text, source=str(path))


def _month(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value if len(value) > 7 else f"{value}-01")
    except ValueError:
        raise InvalidInput(f"--as-of: expected YYYY-MM, got {value!r}") from None


@app.command("count")
def count_command(rule: RuleOpt, as_of: AsOfOpt = None, json_output: JsonOpt = False) -> None:
    """Validate a rule and count the lines it selects on the configured warehouse."""
    with domain_errors():
        document = read_rule(rule)
        month = _month(as_of)
    with command_warehouse() as con:
        resolved = resolve_as_of(con, month)
        members = count(con, document, as_of=resolved)
    if json_output:
        print_json(
            {
                "count": members,
                "as_of": resolved,
                "rule": document.model_dump(mode="json", by_alias=True, exclude_none=True),
            }
        )
    else:
        console.print(f"{members:,} lines match {rule} (as of {resolved:%Y-%m})")


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a segment rule document."""
    print_json(rule_json_schema())
