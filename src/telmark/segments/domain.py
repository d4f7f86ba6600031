"""Pure segment rules: the status machine and what a segment name may be."""

from __future__ import annotations

from enum import StrEnum

from telmark.errors import InvalidInput, InvalidTransition

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_NOTE = 1000


class SegmentStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class SnapshotStatus(StrEnum):
    """building → ready | failed; a failed (or abandoned) build may be retried into ready."""

    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


ALLOWED: dict[SegmentStatus, frozenset[SegmentStatus]] = {
    SegmentStatus.ACTIVE: frozenset({SegmentStatus.ARCHIVED}),
    SegmentStatus.ARCHIVED: frozenset({SegmentStatus.ACTIVE}),
}


def transition(current: SegmentStatus, to: SegmentStatus) -> SegmentStatus:
    """``to`` if a segment in ``current`` may move there; InvalidTransition otherwise."""
    if to not in ALLOWED[current]:
        raise InvalidTransition(f"segment is already {current}; cannot move it to {to}")
    return to


def check_editable(status: SegmentStatus) -> None:
    """Archived segments keep their last rule: restore one before editing it."""
    if status is not SegmentStatus.ACTIVE:
        raise InvalidTransition("segment is archived: restore it before editing")


def clean_name(name: str) -> str:
    """The name trimmed and with runs of whitespace collapsed; InvalidInput if unusable."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput("name: must not be empty", details=[{"field": "name"}])
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(
            f"name: at most {MAX_NAME} characters, got {len(cleaned)}",
            details=[{"field": "name"}],
        )
    if any(not ch.isprintable() for ch in cleaned):
        raise InvalidInput("name: contains control characters", details=[{"field": "name"}])
    return cleaned


def clone_name(name: str) -> str:
    """The default name of a copy of ``name``, kept within the name limit."""
    suffix = " (copy)"
    return name[: MAX_NAME - len(suffix)] + suffix
