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


def cli_actor() -> Actor:
    """The operating-system user running a CLI command (CLI commands act with server rights)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        name = "unknown"
    return Actor(username=f"cli:{name}", channel="cli")


SYSTEM = Actor(username="system", channel="system")
