"""The one marker for messages translated later, importable from any layer.

``N_("...")`` returns its argument unchanged; ``pybabel extract -k N_`` collects
the literal so the console can translate it when it is shown. Domain modules
mark their messages with it without importing the web layer.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the gettext extraction keyword (-k N_)
    """Mark ``message`` for extraction; translation happens where it is displayed."""
    return message
