"""Segment status machine and name rules (pure)."""

from __future__ import annotations

import pytest

from telmark.errors import InvalidInput, InvalidTransition
from telmark.segments.domain import (
    MAX_NAME,
    SegmentStatus,
    check_editable,
    clean_name,
    clone_name,
    transition,
)


def test_archive_and_restore_only_from_the_other_state() -> None:
    assert transition(SegmentStatus.ACTIVE, SegmentStatus.ARCHIVED) is SegmentStatus.ARCHIVED
    assert transition(SegmentStatus.ARCHIVED, SegmentStatus.ACTIVE) is SegmentStatus.ACTIVE
    for status in SegmentStatus:
        with pytest.raises(InvalidTransition):
            transition(status, status)


def test_only_active_segments_are_editable() -> None:
    check_editable(SegmentStatus.ACTIVE)
    with pytest.raises(InvalidTransition, match="restore"):
        check_editable(SegmentStatus.ARCHIVED)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [("  高价值\t用户 ", "高价值 用户"), ("x' OR 1=1 --", "x' OR 1=1 --")],
)
def test_names_are_trimmed_and_kept_literally(raw: str, cleaned: str) -> None:
    assert clean_name(raw) == cleaned


@pytest.mark.parametrize("raw", ["", "   ", "a" * (MAX_NAME + 1), "a\x00b"])
def test_unusable_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="name"):
        clean_name(raw)


def test_clone_name_stays_within_the_limit() -> None:
    assert clone_name("预付费") == "预付费 (copy)"
    assert len(clone_name("a" * MAX_NAME)) == MAX_NAME
