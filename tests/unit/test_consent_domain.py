"""Consent rules: who may be contacted, revocation rights, and reading import files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telmark.consent import importing
from telmark.consent.domain import (
    Channel,
    ConsentKind,
    ConsentRule,
    Source,
    check_revocation,
    is_contactable,
    normalize_msisdn,
)
from telmark.errors import Forbidden, InvalidInput

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
A, B = "13812345678", "13987654321"


def rule(
    kind: ConsentKind = ConsentKind.OPT_OUT,
    channel: Channel = Channel.SMS,
    *,
    msisdn: str = A,
    since: datetime = NOW - DAY,
    revoked: datetime | None = None,
) -> ConsentRule:
    return ConsentRule(msisdn, kind, channel, since, revoked)


def test_an_opt_out_blocks_its_channel_only() -> None:
    entries = [rule(channel=Channel.SMS)]
    assert not is_contactable(entries, A, Channel.SMS, NOW)
    assert is_contactable(entries, A, Channel.OUTBOUND_CALL, NOW)
    assert is_contactable(entries, B, Channel.SMS, NOW)
    # "May we use every channel?" is no as soon as one channel is blocked.
    assert not is_contactable(entries, A, Channel.ALL, NOW)


@pytest.mark.parametrize("kind", list(ConsentKind))
def test_channel_all_blocks_every_channel_for_every_kind(kind: ConsentKind) -> None:
    entries = [rule(kind, Channel.ALL)]
    for channel in Channel:
        assert not is_contactable(entries, A, channel, NOW)


def test_entries_apply_only_between_creation_and_revocation() -> None:
    entries = [rule(since=NOW - DAY, revoked=NOW + DAY)]
    assert is_contactable(entries, A, Channel.SMS, NOW - 2 * DAY)  # before it existed
    assert not is_contactable(entries, A, Channel.SMS, NOW)
    assert is_contactable(entries, A, Channel.SMS, NOW + DAY)  # revoked at that instant
    assert is_contactable([], A, Channel.SMS, NOW)


@given(
    channels=st.lists(st.sampled_from(list(Channel)), max_size=6),
    asked=st.sampled_from(list(Channel)),
)
def test_contactable_exactly_when_no_entry_covers_the_channel(
    channels: list[Channel], asked: Channel
) -> None:
    entries = [rule(channel=c) for c in channels]
    covered = any(c is Channel.ALL or c is asked or asked is Channel.ALL for c in channels)
    assert is_contactable(entries, A, asked, NOW) is not covered


def test_revoking_a_blacklist_entry_needs_the_right_and_a_reason() -> None:
    with pytest.raises(Forbidden):
        check_revocation(ConsentKind.BLACKLIST, may_manage=False, reason="court order lifted")
    with pytest.raises(InvalidInput, match="reason is required"):
        check_revocation(ConsentKind.BLACKLIST, may_manage=True, reason="  ")
    assert check_revocation(ConsentKind.BLACKLIST, may_manage=True, reason=" lifted ") == "lifted"
    assert check_revocation(ConsentKind.OPT_OUT, may_manage=False, reason=None) == ""


def test_normalize_msisdn() -> None:
    assert normalize_msisdn(" 13812345678 ") == A
    for bad in ("1381234567", "23812345678", "12812345678", "138123456789", "138-1234-5678"):
        with pytest.raises(InvalidInput):
            normalize_msisdn(bad)


def test_parse_reads_utf8_bom_and_gbk_alike() -> None:
    text = "msisdn,kind,channel,reason\n13812345678,opt_out,sms,客户来电要求\n"
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode(), text.encode("gbk")):
        parsed = importing.parse(data, file="f.csv")
        (entry,) = parsed.entries
        assert entry.reason == "客户来电要求"
        assert entry.source is Source.IMPORT
    assert importing.parse(text.encode("gbk"), file="f.csv").encoding == "gb18030"
    assert importing.parse(b"\xef\xbb\xbf" + text.encode(), file="f.csv").encoding == "utf-8-sig"


def test_parse_reports_every_problem_with_row_and_column() -> None:
    data = (
        b"msisdn,kind,channel\n"
        b"13812345678,opt_out,sms\n"
        b"1381234567,opt_out,sms\n"  # row 3: short number
        b"13812345679,unsubscribe,fax\n"  # row 4: kind and channel
        b"13812345670,dnd\n"  # row 5: a field missing
    )
    with pytest.raises(importing.ConsentFileRejected) as caught:
        importing.parse(data, file="optouts.csv")
    problems = {(d["row"], d["column"]) for d in caught.value.details}
    assert problems == {(3, "msisdn"), (4, "kind"), (4, "channel"), (5, None)}
    assert all(d["file"] == "optouts.csv" for d in caught.value.details)
    assert "4 problem(s)" in caught.value.message


def test_parse_checks_the_header() -> None:
    with pytest.raises(importing.ConsentFileRejected) as caught:
        importing.parse(b"phone,kind,kind\n13812345678,dnd,sms\n", file="f.csv")
    reasons = {(d["column"], str(d["reason"]).split(";")[0]) for d in caught.value.details}
    assert ("phone", "unknown column") in reasons
    assert ("kind", "column appears more than once") in reasons
    assert ("msisdn", "required column is missing") in reasons
    with pytest.raises(importing.ConsentFileRejected, match="empty"):
        importing.parse(b"", file="f.csv")


def test_parse_names_the_line_of_bytes_that_are_not_in_the_encoding() -> None:
    data = "msisdn,kind,channel,reason\n13812345678,dnd,sms,好\n".encode()
    with pytest.raises(importing.ConsentFileRejected) as caught:
        importing.parse(data + b"\xff\xfe\n", file="f.csv", encoding="utf-8")
    (problem,) = caught.value.details
    assert problem["row"] == 3
    assert problem["value"] == "0xFF"
