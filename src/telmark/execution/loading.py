"""Loading a targeting run into the outbox: ``load_run`` (see ``service`` for the design).

Also the rows a template is rendered for: the list's columns joined with the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend
from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

from telmark.cases.models import Case
from telmark.db import utcnow
from telmark.errors import Forbidden, InvalidInput, NotFound
from telmark.execution import templates
from telmark.execution.domain import (
    CHANNEL_KINDS,
    DISPATCH_CHANNELS,
    PROVINCE_TZ,
    OutboxState,
    Window,
    next_send_time,
    outbox_key,
)
from telmark.execution.models import OUTBOX, OutboxMessage, OutboxTemplate
from telmark.execution.schemas import (
    LoadLine,
    LoadRead,
)
from telmark.offers.models import Offer, OfferVersion
from telmark.org.domain import is_root_path
from telmark.targeting.domain import Group
from telmark.targeting.models import TargetingRun
from telmark.targeting.service import list_file
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import ScopedWarehouse

INSERT_BATCH = 1000
# What a template may use: the list's own columns (no number) and three names joined in.
LIST_FIELDS = (
    "case_code",
    "subscriber_id",
    "channel",
    "offer_code",
    "city_id",
    "outlet_id",
    "account_manager_id",
    "score",
    "planned_on",
    "send_from",
    "send_until",
)
JOINED_FIELDS = ("offer_name", "city_name", "plan_name")
TEMPLATE_FIELDS = LIST_FIELDS + JOINED_FIELDS
# Shown in a preview when no run is given: what a row looks like, with made-up values.
EXAMPLE_ROW: Mapping[str, Any] = {
    "case_code": "RENEW",
    "subscriber_id": 10001,
    "channel": "sms",
    "offer_code": "RENEW-50",
    "city_id": "C01",
    "outlet_id": "C01D01O001",
    "account_manager_id": None,
    "score": 1200,
    "planned_on": "2026-10-05",
    "send_from": "08:00",
    "send_until": "21:00",
    "offer_name": "续约送50元话费",
    "city_name": "省会市",
    "plan_name": "5G畅享128元套餐",
}


def without_number(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("msisdn", None)
    return row


# -- loading -----------------------------------------------------------------------------------


def read_list(
    uow: UnitOfWork,
    run_id: int,
    directory: Path | None,
    *,
    case_id: int | None = None,
    channel: str | None = None,
) -> pa.Table:
    """Treatment rows of the run's list file (verified), in the file's order."""
    import pyarrow.parquet as pq

    path = list_file(uow=uow, run_id=run_id, directory=directory)
    table = pq.read_table(path)
    keep = pc.equal(table["group"], Group.TREATMENT.value)
    if case_id is not None:
        keep = pc.and_(keep, pc.equal(table["case_id"], case_id))
    if channel is not None:
        keep = pc.and_(keep, pc.equal(table["channel"], channel))
    return table.filter(keep)


def _offer_names(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = uow.session.execute(
        select(Offer.code, OfferVersion.name)
        .join(
            OfferVersion,
            and_(OfferVersion.offer_id == Offer.id, OfferVersion.version == Offer.current_version),
        )
        .where(Offer.code.in_(codes))
    )
    return {str(code): str(name) for code, name in rows}


def enriched(uow: UnitOfWork, con: BaseBackend, table: pa.Table) -> pa.Table:
    """``table`` with msisdn, plan_name, city_name (warehouse) and offer_name (offer book)."""
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    listed = ibis.memtable(table.select([c for c in table.column_names if c != "msisdn"]))
    subscribers = backend.table("subscribers").select(
        _sub="subscriber_id", msisdn="msisdn", _plan="plan_id"
    )
    products = backend.table("products").select(_product="product_id", plan_name="name")
    units = backend.table("org_units").select(_unit="org_id", city_name="name")
    joined = (
        listed.left_join(subscribers, listed.subscriber_id == subscribers._sub)
        .left_join(products, subscribers._plan == products._product)
        .left_join(units, listed.city_id == units._unit)
    )
    columns = [*table.column_names, "msisdn", "plan_name", "city_name"]
    result = joined.select(*dict.fromkeys(columns)).to_pyarrow()
    names = _offer_names(uow, pc.unique(result["offer_code"]).drop_null().to_pylist())
    offer_names = [names.get(code) for code in result["offer_code"].to_pylist()]
    return result.append_column("offer_name", pa.array(offer_names, pa.string()))


@dataclass(slots=True)
class _Renderer:
    """Renders one template for many rows, once per distinct combination of its variables.

    Rows differ in few of the variables a campaign text uses (offer, city,
    plan), so the rendered text is shared by thousands of rows.
    """

    template: templates.MessageTemplate
    used: tuple[str, ...]
    cache: dict[tuple[Any, ...], templates.Rendered]

    def render(self, row: Mapping[str, Any], where: str) -> templates.Rendered:
        key = tuple(row.get(name) for name in self.used)
        hit = self.cache.get(key)
        if hit is None:
            try:
                hit = templates.render(self.template, row)
            except templates.TemplateInvalid as error:
                raise InvalidInput(f"{where}: {error}", details=error.details) from error
            if not hit.ok:
                reasons = "; ".join(str(p) for p in hit.problems)
                raise InvalidInput(
                    f"{where}: {reasons}", details=[p.as_dict() for p in hit.problems]
                )
            self.cache[key] = hit
        return hit


def _renderers(
    uow: UnitOfWork, pairs: set[tuple[int, str]], codes: Mapping[int, str]
) -> dict[tuple[int, str], _Renderer]:
    rows = uow.session.scalars(
        select(OutboxTemplate).where(OutboxTemplate.case_id.in_({c for c, _ in pairs}))
    )
    found = {(r.case_id, r.channel): r for r in rows}
    missing = sorted(pairs - found.keys())
    if missing:
        named = ", ".join(f"{codes.get(c, c)}/{ch}" for c, ch in missing)
        raise InvalidInput(
            f"no message template for {named}: set one before loading the run",
            details=[{"field": "template", "case_id": c, "channel": ch} for c, ch in missing],
        )
    renderers = {}
    for pair in pairs:
        row = found[pair]
        message = templates.MessageTemplate(CHANNEL_KINDS[pair[1]], row.body, row.subject)
        used = tuple(sorted(templates.check(message, fields=TEMPLATE_FIELDS)))
        renderers[pair] = _Renderer(message, used, {})
    return renderers


def _window_start(planned_on: Any, window: Window | None) -> datetime:
    start = datetime.combine(planned_on, time(0), tzinfo=PROVINCE_TZ).astimezone(UTC)
    return next_send_time(start, planned_on=planned_on, window=window)


def _insert(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(OUTBOX).on_conflict_do_nothing(index_elements=["key"])
    uow.session.execute(stmt, rows)


def _count(uow: UnitOfWork, run_id: int) -> int:
    return (
        uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.run_id == run_id)
        )
        or 0
    )


def load_run(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    run_id: int,
    directory: Path | None = None,
    batch_size: int = INSERT_BATCH,
) -> LoadRead:
    """Put the run's treatment contacts of dispatched channels into the outbox (module doc)."""
    if batch_size < 1:
        raise InvalidInput("batch_size must be positive", details=[{"field": "batch_size"}])
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("a targeting run is province-wide: only a province user may load it")
    run = uow.session.get(TargetingRun, run_id)
    if run is None:
        raise NotFound(f"targeting run {run_id} not found", details=[{"field": "run_id"}])
    path = list_file(uow=uow, run_id=run_id, directory=directory)
    import pyarrow.parquet as pq

    everything = pq.read_table(path, columns=["group", "channel"])
    control = pc.sum(pc.equal(everything["group"], Group.CONTROL.value)).as_py() or 0
    treatment = read_list(uow, run_id, directory)
    dispatched = pc.is_in(treatment["channel"], pa.array(DISPATCH_CHANNELS))
    not_dispatched = treatment.num_rows - (pc.sum(dispatched).as_py() or 0)
    table = treatment.filter(dispatched)
    codes = {int(c["case_id"]): str(c["code"]) for c in run.cases}
    case_ids = pc.unique(table["case_id"]).to_pylist()
    present = set(uow.session.scalars(select(Case.id).where(Case.id.in_(case_ids))))
    if set(case_ids) - present:
        raise NotFound(f"cases {sorted(set(case_ids) - present)} of run {run_id} not found")
    # E-mail has no address in the warehouse contract: such rows are counted, not loaded.
    addressed = pc.not_equal(table["channel"], "email")
    no_address = table.num_rows - (pc.sum(addressed).as_py() or 0)
    table = table.filter(addressed)
    pairs = set(zip(table["case_id"].to_pylist(), table["channel"].to_pylist(), strict=True))
    renderers = _renderers(uow, pairs, codes)
    before = _count(uow, run_id)
    lines: dict[tuple[int, str], int] = {}
    now = utcnow()
    for rows in _batches(enriched(uow, con, table), batch_size):
        values = []
        for row in rows:
            pair = (row["case_id"], row["channel"])
            lines[pair] = lines.get(pair, 0) + 1
            values.append(_outbox_values(run_id, row, renderers[pair], now))
        _insert(uow, values)
    inserted = _count(uow, run_id) - before
    uow.commit()
    return LoadRead(
        run_id=run_id,
        inserted=inserted,
        already_loaded=table.num_rows - inserted,
        control=control,
        not_dispatched=not_dispatched,
        no_address=no_address,
        lines=[
            LoadLine(case_id=c, case_code=codes.get(c, str(c)), channel=ch, rows=n)
            for (c, ch), n in sorted(lines.items())
        ],
    )


def _batches(table: pa.Table, size: int) -> Iterator[list[dict[str, Any]]]:
    for batch in table.to_batches(max_chunksize=size):
        yield batch.to_pylist()


def _outbox_values(
    run_id: int, row: Mapping[str, Any], renderer: _Renderer, now: datetime
) -> dict[str, Any]:
    where = f"case {row['case_code']}, {row['channel']}, subscriber {row['subscriber_id']}"
    if not row.get("msisdn"):
        raise InvalidInput(f"{where}: the subscriber has no number in the warehouse")
    rendered = renderer.render(without_number(dict(row)), where)
    window = Window.parse(row["send_from"], row["send_until"])
    return {
        "key": outbox_key(
            run_id=run_id,
            case_id=row["case_id"],
            subscriber_id=row["subscriber_id"],
            channel=row["channel"],
        ),
        "run_id": run_id,
        "case_id": row["case_id"],
        "case_code": row["case_code"],
        "subscriber_id": row["subscriber_id"],
        "channel": row["channel"],
        "address": row["msisdn"],
        "body": rendered.body,
        "subject": rendered.subject,
        "offer_code": row["offer_code"],
        "city_id": row["city_id"],
        "outlet_id": row["outlet_id"],
        "account_manager_id": row["account_manager_id"],
        "planned_on": row["planned_on"],
        "send_from": row["send_from"],
        "send_until": row["send_until"],
        "state": OutboxState.PLANNED.value,
        "attempts": 0,
        "next_attempt_at": _window_start(row["planned_on"], window),
        "created_at": now,
        "updated_at": now,
    }
