"""``telmark data``: generate a synthetic province, import BOSS exports, inspect tables."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
