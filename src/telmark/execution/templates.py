"""Personalised message templates: variables, Chinese text, per-channel length checks, preview.

Templates are Jinja2 (``尊敬的{{ name }}，您本月剩余流量{{ data_left_mb }}MB``) rendered in
a ``SandboxedEnvironment`` with ``StrictUndefined``:

* sandboxed, because templates are typed into the console by planners and then
  rendered by the dispatcher for millions of rows: the sandbox refuses
  attribute access to Python internals (``{{ x.__class__ }}``), which
  ``str.format`` (``{0.__class__}``) would allow;
* strict, because a misspelt variable must stop the campaign at preview, not
  send "尊敬的，" to every subscriber: ``check`` compares the template's
  variables with the fields the target list has and names each unknown one,
  and rendering a row that lacks a value raises naming the variable and row.

Jinja2 also gives planners conditionals (``{% if tier == 'gold' %}``) and
filters; two are added for this domain: ``yuan`` (fen → ``58.00``) and
``mask`` (a phone number as ``138****5678``). Output is plain text (no
autoescape): SMS, push and e-mail here are text/plain.

Length checks are per channel: an SMS shows its coding (GSM-7 or UCS-2) and
segment count, computed by the same code the SMPP channel encodes with, and
is refused beyond ``max_sms_segments``; e-mail subjects and push bodies have
fixed limits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from telmark.errors import InvalidInput
from telmark.execution.channels.base import ChannelKind
from telmark.execution.channels.sms_text import SmsShape, shape
from telmark.privacy.masking import mask_msisdn
from telmark.translation import N_

MAX_SMS_SEGMENTS = 5  # operators bill per segment; a campaign SMS beyond 5 is a mistake
MAX_SUBJECT_CHARS = 150
MAX_PUSH_CHARS = 1000


def _yuan(fen: Any) -> str:
    """Fen (an integer) as yuan with two decimals: 5800 → 58.00."""
    return f"{Decimal(int(fen)) / 100:.2f}"


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters["yuan"] = _yuan
    env.filters["mask"] = lambda value: mask_msisdn(str(value))
    return env


_ENV = _environment()


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """One thing wrong with a template or a row; ``reason`` is translatable with ``params``."""

    reason: str
    params: dict[str, object] = field(default_factory=dict)
    field_name: str = "body"  # body or subject
    line: int | None = None
    row: int | None = None  # index of the sample row, when a row caused it

    def as_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "params": self.params,
            "field": self.field_name,
            "line": self.line,
            "row": self.row,
        }

    def __str__(self) -> str:
        where = [self.field_name]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{', '.join(where)}: {self.reason % self.params if self.params else self.reason}"


class TemplateInvalid(InvalidInput):
    """The template cannot be used as written; ``problems`` says why, each naming its place."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__(
            "; ".join(str(p) for p in problems), details=[p.as_dict() for p in problems]
        )
        self.problems = problems


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    channel: ChannelKind
    body: str
    subject: str | None = None  # e-mail only

    def sources(self) -> list[tuple[str, str]]:
        return [("body", self.body)] + ([("subject", self.subject)] if self.subject else [])


def variables(template: MessageTemplate) -> set[str]:
    """The variables ``template`` reads; raises TemplateInvalid on a syntax error."""
    found: set[str] = set()
    problems: list[TemplateProblem] = []
    for name, source in template.sources():
        try:
            found |= meta.find_undeclared_variables(_ENV.parse(source))
        except TemplateSyntaxError as error:
            problems.append(
                TemplateProblem(
                    N_("syntax error: %(error)s"), {"error": error.message}, name, error.lineno
                )
            )
    if problems:
        raise TemplateInvalid(problems)
    return found


def check(template: MessageTemplate, *, fields: Iterable[str]) -> set[str]:
    """The variables used, after checking each is one of ``fields`` (the list's columns)."""
    used = variables(template)
    known = set(fields)
    problems = []
    if template.channel is ChannelKind.EMAIL and not template.subject:
        problems.append(TemplateProblem(N_("an e-mail needs a subject"), field_name="subject"))
    for name, source in template.sources():
        here = meta.find_undeclared_variables(_ENV.parse(source))
        problems.extend(
            TemplateProblem(
                N_("unknown variable %(variable)s; known: %(known)s"),
                {"variable": variable, "known": ", ".join(sorted(known)) or "-"},
                name,
            )
            for variable in sorted(here - known)
        )
    if problems:
        raise TemplateInvalid(problems)
    return used


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str
    subject: str | None
    sms: SmsShape | None  # for SMS: coding and segment count of the body
    problems: tuple[TemplateProblem, ...] = ()  # length limits exceeded

    @property
    def ok(self) -> bool:
        return not self.problems


_UNDEFINED = re.compile(r"^'(?P<variable>[^']+)' is undefined$")


def _render_one(source: str, row: Mapping[str, Any], *, name: str, index: int | None) -> str:
    # A NULL column is a missing value, not the text "None" in front of a subscriber.
    values = {key: value for key, value in row.items() if value is not None}
    try:
        return _ENV.from_string(source).render(values)
    except UndefinedError as error:
        found = _UNDEFINED.match(error.message or "")
        if found:
            problem = TemplateProblem(
                N_("variable %(variable)s has no value"),
                {"variable": found["variable"]},
                name,
                row=index,
            )
        else:  # e.g. an attribute or key missing from a value: Jinja2's own words
            problem = TemplateProblem(
                N_("cannot render: %(error)s"), {"error": error.message or ""}, name, row=index
            )
    except SecurityError as error:
        problem = TemplateProblem(
            N_("not allowed in a template: %(error)s"), {"error": str(error)}, name, row=index
        )
    except (TypeError, ValueError, ArithmeticError) as error:
        problem = TemplateProblem(
            N_("cannot render: %(error)s"), {"error": str(error)}, name, row=index
        )
    raise TemplateInvalid([problem])


def render(
    template: MessageTemplate,
    row: Mapping[str, Any],
    *,
    index: int | None = None,
    max_sms_segments: int = MAX_SMS_SEGMENTS,
) -> Rendered:
    """The message for one subscriber row, with its length checked for the channel."""
    body = _render_one(template.body, row, name="body", index=index).strip()
    subject = (
        _render_one(template.subject, row, name="subject", index=index).strip()
        if template.subject
        else None
    )
    problems: list[TemplateProblem] = []
    sms = None
    if not body:
        problems.append(TemplateProblem(N_("the message is empty"), row=index))
    if template.channel is ChannelKind.SMS:
        sms = shape(body)
        if sms.segments > max_sms_segments:
            problems.append(
                TemplateProblem(
                    N_("%(segments)s SMS segments, at most %(limit)s allowed"),
                    {"segments": sms.segments, "limit": max_sms_segments},
                    row=index,
                )
            )
    elif template.channel is ChannelKind.WEBHOOK and len(body) > MAX_PUSH_CHARS:
        problems.append(
            TemplateProblem(
                N_("%(length)s characters, at most %(limit)s allowed in a push message"),
                {"length": len(body), "limit": MAX_PUSH_CHARS},
                row=index,
            )
        )
    if subject is not None and len(subject) > MAX_SUBJECT_CHARS:
        problems.append(
            TemplateProblem(
                N_("subject of %(length)s characters, at most %(limit)s allowed"),
                {"length": len(subject), "limit": MAX_SUBJECT_CHARS},
                "subject",
                row=index,
            )
        )
    return Rendered(body, subject, sms, tuple(problems))


@dataclass(frozen=True, slots=True)
class Preview:
    """What a planner sees before sending: each sample rendered, or why it cannot be."""

    variables: frozenset[str]
    samples: tuple[Rendered | TemplateInvalid, ...]

    @property
    def ok(self) -> bool:
        return all(isinstance(s, Rendered) and s.ok for s in self.samples)

    @property
    def max_sms_segments(self) -> int:
        return max(
            (s.sms.segments for s in self.samples if isinstance(s, Rendered) and s.sms), default=0
        )


def preview(
    template: MessageTemplate,
    rows: Sequence[Mapping[str, Any]],
    *,
    fields: Iterable[str],
    max_sms_segments: int = MAX_SMS_SEGMENTS,
) -> Preview:
    """``template`` checked against ``fields`` and rendered for each sample row.

    A template error (syntax, unknown variable) raises; a row that cannot be
    rendered is shown as its error beside the others, as the planner needs to
    see which subscribers' data is incomplete.
    """
    used = check(template, fields=fields)
    samples: list[Rendered | TemplateInvalid] = []
    for index, row in enumerate(rows):
        try:
            samples.append(render(template, row, index=index, max_sms_segments=max_sms_segments))
        except TemplateInvalid as error:
            samples.append(error)
    return Preview(frozenset(used), tuple(samples))
