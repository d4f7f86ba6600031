"""Message templates: variables checked by name, Chinese text, per-channel lengths, preview."""

from __future__ import annotations

import pytest

from telmark.execution.channels.base import ChannelKind
from telmark.execution.channels.sms_text import DataCoding
from telmark.execution.templates import (
    MessageTemplate,
    Rendered,
    TemplateInvalid,
    check,
    preview,
    render,
)

FIELDS = ["name", "msisdn", "plan_name", "balance_fen", "tier"]
SMS = MessageTemplate(
    ChannelKind.SMS,
    "尊敬的{{ name }}：您的{{ plan_name }}余额{{ balance_fen | yuan }}元。"
    "{% if tier == 'gold' %}金卡会员专享流量包已到账。{% endif %}",
)
ROW = {
    "name": "王小明",
    "msisdn": "13812345678",
    "plan_name": "5G畅享",
    "balance_fen": 5800,
    "tier": "gold",
}


def test_renders_chinese_with_filters_and_conditions() -> None:
    rendered = render(SMS, ROW)
    assert rendered.body == "尊敬的王小明：您的5G畅享余额58.00元。金卡会员专享流量包已到账。"
    assert rendered.sms is not None
    assert rendered.sms.coding is DataCoding.UCS2
    assert rendered.sms.segments == 1
    assert rendered.ok


def test_unknown_variable_is_named() -> None:
    template = MessageTemplate(ChannelKind.SMS, "您好{{ nmae }}，套餐{{ plan_name }}")
    with pytest.raises(TemplateInvalid) as caught:
        check(template, fields=FIELDS)
    assert caught.value.problems[0].params["variable"] == "nmae"
    assert "nmae" in caught.value.message


def test_syntax_error_names_field_and_line() -> None:
    template = MessageTemplate(ChannelKind.EMAIL, "第一行\n{{ name ", subject="{{ name }}")
    with pytest.raises(TemplateInvalid) as caught:
        check(template, fields=FIELDS)
    problem = caught.value.problems[0]
    assert (problem.field_name, problem.line) == ("body", 2)


def test_missing_value_names_variable_and_row() -> None:
    rows = [ROW, {**ROW, "name": None}]
    shown = preview(SMS, rows, fields=FIELDS)
    assert isinstance(shown.samples[0], Rendered)
    failed = shown.samples[1]
    assert isinstance(failed, TemplateInvalid)
    assert failed.problems[0].params == {"variable": "name"}
    assert failed.problems[0].row == 1
    assert not shown.ok


def test_sandbox_refuses_python_internals() -> None:
    template = MessageTemplate(ChannelKind.SMS, "{{ name.__class__.__mro__ }}")
    with pytest.raises(TemplateInvalid, match="not allowed"):
        render(template, ROW)


def test_preview_counts_sms_segments_and_enforces_the_limit() -> None:
    template = MessageTemplate(ChannelKind.SMS, "{{ name }}" + "，感谢您的支持" * 30)
    shown = preview(template, [ROW], fields=FIELDS, max_sms_segments=3)
    sample = shown.samples[0]
    assert isinstance(sample, Rendered)
    assert sample.sms is not None
    assert sample.sms.segments == 4
    assert shown.max_sms_segments == 4
    assert sample.problems[0].params == {"segments": 4, "limit": 3}
    ascii_only = preview(
        MessageTemplate(ChannelKind.SMS, "Hi {{ msisdn | mask }}"), [ROW], fields=FIELDS
    ).samples[0]
    assert isinstance(ascii_only, Rendered)
    assert ascii_only.body == "Hi 138****5678"
    assert ascii_only.sms is not None
    assert ascii_only.sms.coding is DataCoding.GSM7


def test_email_needs_a_short_subject() -> None:
    with pytest.raises(TemplateInvalid, match="subject"):
        check(MessageTemplate(ChannelKind.EMAIL, "正文"), fields=FIELDS)
    long_subject = MessageTemplate(ChannelKind.EMAIL, "正文", subject="账单" * 100)
    assert render(long_subject, ROW).problems[0].field_name == "subject"
