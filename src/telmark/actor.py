"""Who is acting: carried by every unit of work so changes can be attributed and audited."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The person or process behind a change (or a sensitive read)."""

    username: str
    user_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None
    channel: str = "system"  # "web", "api", "cli" or "system"
    # Materialised org path ("/P32/C01/") the actor may see; None means unrestricted
    # (CLI and system jobs act with server rights). Services filter by it through
    # telmark.org.scope, so a route cannot forget to.
    scope_path: str | None = None


def cli_actor() -> Actor:
    """The operating-system user running a CLI command (CLI commands act with server rights)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        name = "unknown"
    return Actor(username=f"cli:{name}", channel="cli")


SYSTEM = Actor(username="system", channel="system")
