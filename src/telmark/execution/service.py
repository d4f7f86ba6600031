"""Execution use cases: message templates, loading a targeting run into the outbox, reading it.

Loading (``load_run``) reads the run's verified list file, keeps the treatment
rows of the channels the outbox sends (control rows stay in the list for
evaluation and are never sent), joins each subscriber's number and the few
name-safe fields a template may use (offer name, city name, plan name), renders
the case's template for the channel and inserts one outbox row per contact with
``INSERT .. ON CONFLICT (key) DO NOTHING``. The key is derived from run, case,
subscriber and channel, so a second load, or a load resumed after a crash,
inserts nothing twice. Everything is checked before the first insert (every
case and channel has a template, every row renders) and the load is one
transaction: it lands whole or not at all.

Sending is ``dispatch``'s business.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from ibis.backends import BaseBackend
from sqlalchemy import Select, func, select, true
from sqlalchemy.orm import aliased

from telmark.audit.service import record_read
from telmark.cases.access import get_case_row
from telmark.db import utcnow
from telmark.errors import InvalidInput, NotFound
from telmark.execution import templates
from telmark.execution.domain import (
    CHANNEL_KINDS,
    OutboxState,
    check_channel,
)
from telmark.execution.loading import (
    EXAMPLE_ROW,
    TEMPLATE_FIELDS,
    enriched,
    read_list,
    without_number,
)
from telmark.execution.models import OutboxMessage, OutboxTemplate
from telmark.execution.schemas import (
    OutboxPage,
    OutboxRowRead,
    PreviewIn,
    PreviewRead,
    ProblemRead,
    SampleRead,
    StateCount,
    TemplateIn,
    TemplateRead,
)
from telmark.org.models import OrgUnit
from telmark.privacy.masking import mask_msisdn
from telmark.uow import UnitOfWork

ENTITY = "outbox"
MAX_PAGE_SIZE = 500
# -- templates ---------------------------------------------------------------------------------


def _template_read(row: OutboxTemplate) -> TemplateRead:
    return TemplateRead(
        id=row.id,
        case_id=row.case_id,
        channel=row.channel,
        body=row.body,
        subject=row.subject,
        variables=list(row.variables),
        revision=row.revision,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _message_template(channel: str, spec: TemplateIn) -> templates.MessageTemplate:
    return templates.MessageTemplate(CHANNEL_KINDS[channel], spec.body, spec.subject or None)


def set_template(*, uow: UnitOfWork, case_id: int, channel: str, spec: TemplateIn) -> TemplateRead:
    """Save the case's message for ``channel`` after checking its variables (audited)."""
    check_channel(channel)
    get_case_row(uow, case_id)
    used = templates.check(_message_template(channel, spec), fields=TEMPLATE_FIELDS)
    row = uow.session.scalar(
        select(OutboxTemplate).where(
            OutboxTemplate.case_id == case_id, OutboxTemplate.channel == channel
        )
    )
    now = utcnow()
    if row is None:
        row = OutboxTemplate(case_id=case_id, channel=channel, revision=1, created_at=now)
        uow.session.add(row)
    else:
        row.revision += 1
    row.body = spec.body
    row.subject = spec.subject or None
    row.variables = sorted(used)
    row.updated_by = uow.actor.username
    row.updated_at = now
    uow.session.flush()
    result = _template_read(row)
    uow.commit()
    return result


def list_templates(*, uow: UnitOfWork, case_id: int | None = None) -> list[TemplateRead]:
    """Message templates of the cases the actor sees (of one case when given)."""
    stmt = select(OutboxTemplate).order_by(OutboxTemplate.case_id, OutboxTemplate.channel)
    if case_id is not None:
        get_case_row(uow, case_id)
        stmt = stmt.where(OutboxTemplate.case_id == case_id)
    return [_template_read(r) for r in uow.session.scalars(stmt)]


def _template_row(uow: UnitOfWork, case_id: int, channel: str) -> OutboxTemplate:
    check_channel(channel)
    get_case_row(uow, case_id)
    row = uow.session.scalar(
        select(OutboxTemplate).where(
            OutboxTemplate.case_id == case_id, OutboxTemplate.channel == channel
        )
    )
    if row is None:
        raise NotFound(f"case {case_id} has no {channel} template", details=[{"field": "channel"}])
    return row


def get_template(*, uow: UnitOfWork, case_id: int, channel: str) -> TemplateRead:
    return _template_read(_template_row(uow, case_id, channel))


def delete_template(*, uow: UnitOfWork, case_id: int, channel: str) -> None:
    """Remove the case's message for ``channel`` (rows already loaded keep their text)."""
    uow.session.delete(_template_row(uow, case_id, channel))
    uow.commit()


def _sample_read(values: Mapping[str, Any], sample: templates.Rendered | Exception) -> SampleRead:
    shown = {k: v for k, v in values.items() if k in TEMPLATE_FIELDS}
    if isinstance(sample, templates.TemplateInvalid):
        problems = [ProblemRead.model_validate(p.as_dict()) for p in sample.problems]
        return SampleRead(values=shown, body=None, subject=None, problems=problems)
    assert isinstance(sample, templates.Rendered)
    return SampleRead(
        values=shown,
        body=sample.body,
        subject=sample.subject,
        sms_coding=sample.sms.coding.name if sample.sms else None,
        sms_segments=sample.sms.segments if sample.sms else None,
        problems=[ProblemRead.model_validate(p.as_dict()) for p in sample.problems],
    )


def preview_template(
    *,
    uow: UnitOfWork,
    con: BaseBackend | None,
    case_id: int,
    channel: str,
    spec: PreviewIn,
    directory: Path | None = None,
) -> PreviewRead:
    """``spec`` rendered for samples: the case's first rows in ``spec.run_id``, or an example."""
    check_channel(channel)
    case = get_case_row(uow, case_id)
    rows: list[dict[str, Any]] = [dict(EXAMPLE_ROW, case_code=case.code, channel=channel)]
    if spec.run_id is not None:
        if con is None:
            raise InvalidInput("a preview from a run needs the warehouse")
        table = read_list(uow, spec.run_id, directory, case_id=case_id, channel=channel)
        table = table.slice(0, spec.samples)
        rows = [without_number(r) for r in enriched(uow, con, table).to_pylist()]
        if not rows:
            raise NotFound(
                f"targeting run {spec.run_id} has no {channel} contacts of case {case.code}",
                details=[{"field": "run_id"}],
            )
    result = templates.preview(_message_template(channel, spec), rows, fields=TEMPLATE_FIELDS)
    return PreviewRead(
        ok=result.ok,
        variables=sorted(result.variables),
        fields=list(TEMPLATE_FIELDS),
        samples=[_sample_read(r, s) for r, s in zip(rows, result.samples, strict=True)],
    )


# -- reading -----------------------------------------------------------------------------------


def _scoped(uow: UnitOfWork, stmt: Select[Any]) -> Select[Any]:
    """Rows whose outlet (or, without one, city) lies in the actor's org scope."""
    scope = uow.actor.scope_path
    if scope is None:
        return stmt
    unit = aliased(OrgUnit)
    return stmt.join(
        unit, unit.code == func.coalesce(OutboxMessage.outlet_id, OutboxMessage.city_id)
    ).where(unit.path.startswith(scope, autoescape=True))


def counts(
    *, uow: UnitOfWork, case_id: int | None = None, run_id: int | None = None
) -> list[StateCount]:
    """Outbox rows by case, channel, city and state, within the actor's scope."""
    o = OutboxMessage
    stmt: Select[Any] = cast(
        Select[Any],
        select(o.case_id, o.case_code, o.channel, o.city_id, o.state, func.count()).group_by(
            o.case_id, o.case_code, o.channel, o.city_id, o.state
        ),
    )
    if case_id is not None:
        stmt = stmt.where(o.case_id == case_id)
    if run_id is not None:
        stmt = stmt.where(o.run_id == run_id)
    stmt = _scoped(uow, stmt).order_by(o.case_code, o.channel, o.city_id, o.state)
    return [
        StateCount(
            case_id=row[0], case_code=row[1], channel=row[2], city_id=row[3], state=row[4],
            count=row[5],
        )
        for row in uow.session.execute(stmt)
    ]  # fmt: skip


def list_rows(
    *,
    uow: UnitOfWork,
    case_id: int | None = None,
    state: OutboxState | None = None,
    channel: str | None = None,
    city_id: str | None = None,
    page: int = 1,
    page_size: int = 50,
    unmask: bool = False,
) -> OutboxPage:
    """One page of outbox rows in the actor's scope; numbers masked unless ``unmask``."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"page must be ≥ 1 and page_size 1–{MAX_PAGE_SIZE}",
            details=[{"field": "page_size", "maximum": MAX_PAGE_SIZE}],
        )
    o = OutboxMessage
    conditions = [
        o.case_id == case_id if case_id is not None else true(),
        o.state == state if state is not None else true(),
        o.channel == channel if channel is not None else true(),
        o.city_id == city_id if city_id is not None else true(),
    ]
    stmt = _scoped(uow, select(o).where(*conditions))
    total = uow.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(
        uow.session.scalars(stmt.order_by(o.id).offset((page - 1) * page_size).limit(page_size))
    )
    if unmask and rows:
        record_read(
            uow=uow,
            what=f"outbox, {len(rows)} numbers in clear",
            entity_type=ENTITY,
            details={"case_id": case_id, "state": state, "page": page},
        )
        uow.commit()
    items = [
        OutboxRowRead(
            id=r.id,
            key=r.key,
            case_id=r.case_id,
            case_code=r.case_code,
            channel=r.channel,
            address=r.address if unmask else mask_msisdn(r.address),
            subscriber_id=r.subscriber_id,
            city_id=r.city_id,
            outlet_id=r.outlet_id,
            planned_on=r.planned_on,
            state=r.state,
            reason=r.reason,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            sent_at=r.sent_at,
            delivered_at=r.delivered_at,
            last_error=r.last_error,
        )
        for r in rows
    ]
    return OutboxPage(items=items, total=total, page=page, page_size=page_size)
