"""Automatic audit of every change made through a unit of work.

One global ``after_flush`` listener on SQLAlchemy's ``Session`` class, which
acts only on sessions that ``UnitOfWork.__enter__`` marked with ``attach``
(``session.info[OWNER_KEY]`` holds the unit of work). Chosen over a listener
per session because:

- the actor is read when the flush happens, not when the session opens:
  routes set ``uow.actor`` after authentication, i.e. after the unit of work
  was entered, and a per-session listener would have to be re-bound then;
- registering instance-level events on every new session costs more than a
  dictionary lookup per flush, and would need unregistering on close.

``after_flush`` rather than ``before_flush``: new rows have their primary keys
by then (the entry names the entity), and attribute history still shows
pre-flush values. The entries are inserted with a Core ``INSERT`` on the
session's own connection, so they are in the same transaction as the change:
committed with it, rolled back with it, and never seen by the ORM flush that
produced them. One entry per inserted, updated or deleted object, including
objects deleted by cascade; ``AuditEntry`` itself is skipped.

Bulk statements (``session.execute(update(Model)...)`` and the like) bypass
the flush, so ``do_orm_execute`` records them too: one entry per statement,
with the SQL and the number of rows. Raw SQL text is not seen by either
hook; application code must not change data that way.

Models tune what is written with class attributes (all optional):
``__audit_redact__`` (columns whose values are secret, see
``domain.is_secret``), ``__audit_ignore__`` (bookkeeping columns whose
change alone is not an event, e.g. ``last_seen_at``) and
``__audit_personal__`` (column → ``PersonalKind``: masked when the log is
shown to someone who may not see personal data).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from sqlalchemy import event, insert
from sqlalchemy.orm import InstanceState, Mapper, ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import UpdateBase

from telmark.actor import Actor
from telmark.audit.domain import (
    ALWAYS_IGNORED,
    LABEL_COLUMNS,
    REDACTED,
    AuditAction,
    is_secret,
    json_safe,
    summarize,
)
from telmark.audit.models import AuditEntry
from telmark.db import utcnow
from telmark.privacy.masking import PersonalKind, contract_fields
from telmark.warehouse.contract import CONTRACT

OWNER_KEY = "telmark.audit.owner"
AUDIT_TABLE = AuditEntry.__tablename__
_BIND_SUFFIX = re.compile(r"_\d+$")  # SQLAlchemy names binds user_id_1, id_2, ...
MAX_BULK_PARAMETERS = 100  # parameter sets kept in the entry of one bulk statement


class ActorHolder(Protocol):
    """What ``attach`` needs from its owner (a ``UnitOfWork``): the actor of the moment."""

    actor: Actor


@dataclass(frozen=True, slots=True)
class Policy:
    """How the changes of one mapped class are written (from its ``__audit_*__`` attributes)."""

    table: str
    columns: tuple[str, ...]  # attribute keys of the mapped columns
    primary_key: tuple[str, ...]
    redact: frozenset[str]
    ignore: frozenset[str]
    label: str | None


@cache
def policy_of(mapper: Mapper[Any]) -> Policy:
    cls = mapper.class_
    columns = tuple(attr.key for attr in mapper.column_attrs)
    declared = frozenset(getattr(cls, "__audit_redact__", ()))
    pk = tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)
    return Policy(
        table=str(mapper.persist_selectable.name),  # type: ignore[attr-defined]
        columns=columns,
        primary_key=pk,
        redact=frozenset(c for c in columns if is_secret(c, declared)),
        ignore=ALWAYS_IGNORED | frozenset(getattr(cls, "__audit_ignore__", ())),
        label=next((c for c in LABEL_COLUMNS if c in columns), None),
    )


def personal_fields(entity_type: str) -> dict[str, PersonalKind]:
    """Personal columns of the table ``entity_type``, for masking its entries when shown.

    From the model's ``__audit_personal__``; a table mirroring a warehouse
    table of the same name (``staff``) also inherits the contract's personal
    columns, so the contract stays the one place that says a staff name is
    personal.
    """
    return dict(_personal_by_table().get(entity_type, {}))


@cache
def _personal_by_table() -> dict[str, dict[str, PersonalKind]]:
    # Every model must be mapped before the registry is read; importing here, not at
    # the top, because the models import the unit of work's modules in turn.
    import telmark.models  # noqa: F401
    from telmark.db import Base

    found: dict[str, dict[str, PersonalKind]] = {}
    for mapper in Base.registry.mappers:
        table = policy_of(mapper).table
        fields: dict[str, PersonalKind] = {}
        spec = CONTRACT.get(table)
        if spec is not None:
            fields.update(
                (name, kind) for name, kind in contract_fields(spec).items() if name in mapper.attrs
            )
        fields.update(getattr(mapper.class_, "__audit_personal__", {}))
        if fields:
            found[table] = fields
    return found


def _value(policy: Policy, key: str, value: Any) -> Any:
    if key in policy.redact:
        return None if value is None else REDACTED
    return json_safe(value)


def _entity_id(policy: Policy, values: Mapping[str, Any]) -> str | None:
    parts = [values.get(k) for k in policy.primary_key]
    if any(p is None for p in parts):
        return None
    if any(k in policy.redact for k in policy.primary_key):
        return REDACTED
    return ",".join(str(p) for p in parts)


def _row(
    actor: Actor,
    action: AuditAction,
    entity_type: str,
    entity_id: str | None,
    summary: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "actor_username": actor.username,
        "actor_user_id": actor.user_id,
        "channel": actor.channel,
        "ip": actor.ip,
        "user_agent": actor.user_agent,
        "action": action.value,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "summary": summary[:1000],
        "before": before,
        "after": after,
    }


def _change(state: InstanceState[Any], deleted: bool, actor: Actor) -> dict[str, Any] | None:
    """The audit row for one flushed object, or None if nothing worth recording changed."""
    policy = policy_of(state.mapper)
    values = state.dict
    if deleted:
        action = AuditAction.DELETE
        before = {k: _value(policy, k, values[k]) for k in policy.columns if k in values}
        after = None
    elif state.key is None:  # pending until the flush is finalised: this was an INSERT
        action = AuditAction.CREATE
        before = None
        after = {k: _value(policy, k, values[k]) for k in policy.columns if k in values}
    else:
        action = AuditAction.UPDATE
        before, after = {}, {}
        for key in policy.columns:
            history = state.attrs[key].history
            if not history.has_changes() or key in policy.ignore:
                continue
            before[key] = _value(policy, key, history.deleted[0] if history.deleted else None)
            after[key] = _value(policy, key, history.added[0] if history.added else None)
        if not after:
            return None
    entity_id = _entity_id(policy, values)
    label = values.get(policy.label) if policy.label else None
    summary = summarize(action, policy.table, entity_id, label)
    return _row(actor, action, policy.table, entity_id, summary, before, after)


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    owner: ActorHolder | None = session.info.get(OWNER_KEY)
    if owner is None:
        return
    rows: list[dict[str, Any]] = []
    # ``states`` holds everything this flush wrote, including cascaded deletes
    # and orphans, which ``session.deleted`` does not list.
    for state, (deleted, list_only) in flush_context.states.items():
        if list_only or state.class_ is AuditEntry:
            continue
        row = _change(state, deleted, owner.actor)
        if row is not None:
            rows.append(row)
    if rows:
        at = utcnow()
        session.connection().execute(insert(AuditEntry), [{**r, "at": at} for r in rows])


def _redacted(values: Mapping[str, Any], declared: frozenset[str]) -> dict[str, Any]:
    """Statement parameters with secret ones redacted (``id_1`` is judged as ``id``)."""
    return {
        str(k): REDACTED
        if v is not None and is_secret(_BIND_SUFFIX.sub("", str(k)), declared)
        else json_safe(v)
        for k, v in values.items()
    }


def _bulk_statement(state: ORMExecuteState) -> Any:
    owner: ActorHolder | None = state.session.info.get(OWNER_KEY)
    statement = state.statement
    if owner is None or not isinstance(statement, UpdateBase) or state.is_select:
        return None
    table = str(getattr(statement.table, "name", statement.table))
    if table == AUDIT_TABLE:
        return None
    action = (
        AuditAction.CREATE
        if state.is_insert
        else AuditAction.DELETE
        if state.is_delete
        else AuditAction.UPDATE
    )
    result = state.invoke_statement()
    rows = getattr(result, "rowcount", None)
    if rows == 0:
        return result  # nothing changed, nothing to record
    declared: frozenset[str] = frozenset()
    if state.bind_mapper is not None:
        declared = policy_of(state.bind_mapper).redact
    compiled = statement.compile(dialect=state.session.get_bind().dialect)
    params = state.parameters
    sets = [params] if isinstance(params, Mapping) else list(params or [])
    detail = {
        "statement": str(compiled),
        "values": _redacted(compiled.params, declared),
        "parameters": [_redacted(p, declared) for p in sets[:MAX_BULK_PARAMETERS]],
        "parameter_sets": len(sets),
        "rows": rows,
    }
    row = _row(owner.actor, action, table, None, f"bulk {action.value} {table}", None, detail)
    state.session.connection().execute(insert(AuditEntry), [{**row, "at": utcnow()}])
    return result


def attach(session: Session, owner: ActorHolder) -> None:
    """Audit every change ``session`` flushes, attributed to ``owner.actor`` at flush time."""
    session.info[OWNER_KEY] = owner


def detach(session: Session) -> None:
    session.info.pop(OWNER_KEY, None)


def is_attached(session: Session) -> bool:
    return OWNER_KEY in session.info


if not event.contains(Session, "after_flush", _after_flush):
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _bulk_statement)
