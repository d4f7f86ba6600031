"""A run's lists read back: one subscriber's arbitration explained, and list downloads.

Both read the run's verified Parquet file (SHA-256 checked first). A download
joins the listed ids with the subscribers' current mobile numbers in the
warehouse and masks them there (``mask_column``) unless the caller may unmask
and asks; the export is recorded in the audit trail before any row is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq
from ibis.backends import BaseBackend

from telmark.audit.service import record_export
from telmark.errors import NotFound
from telmark.privacy.export import csv_chunks
from telmark.privacy.masking import PersonalKind, mask_column
from telmark.targeting.domain import Group
from telmark.targeting.schemas import CandidateRead, ExplainRead
from telmark.targeting.service import list_file
from telmark.uow import UnitOfWork
from telmark.warehouse.scope import ScopedWarehouse

ENTITY = "targeting_run"
BATCH_ROWS = 65_536
LIST_COLUMNS = (
    "case_code",
    "subscriber_id",
    "msisdn",
    "group",
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
FILTER_FIELDS = ("case_id", "channel", "city_id", "outlet_id", "account_manager_id", "group")
RULE = (
    "score = priority × (business weight bp + 1) × (propensity ‰ + 1) × value (yuan); "
    "highest first, ties to the lower case id; channel caps first, then the subscriber's "
    "allowance of contacts under the contact policy"
)


@dataclass(frozen=True, slots=True)
class ListFilter:
    case_id: int | None = None
    channel: str | None = None
    city_id: str | None = None
    outlet_id: str | None = None
    account_manager_id: str | None = None
    group: Group | None = Group.TREATMENT

    def as_details(self) -> dict[str, str]:
        return {
            name: str(getattr(self, name))
            for name in FILTER_FIELDS
            if getattr(self, name) is not None
        }


def explain(
    *, uow: UnitOfWork, run_id: int, subscriber_id: int, directory: Path | None = None
) -> ExplainRead:
    """Every case that reached arbitration for ``subscriber_id`` in the run, and who won."""
    path = list_file(uow=uow, run_id=run_id, directory=directory)
    rows = pq.read_table(path, filters=[("subscriber_id", "=", subscriber_id)]).to_pylist()
    if not rows:
        raise NotFound(
            f"subscriber {subscriber_id} reached no arbitration in run {run_id}",
            details=[{"field": "subscriber_id"}],
        )
    rows.sort(key=lambda r: (-int(r["score"]), int(r["case_id"])))
    return ExplainRead(
        run_id=run_id,
        subscriber_id=subscriber_id,
        rule=RULE,
        candidates=[
            CandidateRead(
                case_id=r["case_id"],
                case_code=r["case_code"],
                group=Group(r["group"]),
                channel=r["channel"],
                offer_code=r["offer_code"],
                priority=r["priority"],
                business_weight_bp=r["business_weight_bp"],
                propensity_permille=r["propensity"],
                value_yuan=r["value"],
                score=r["score"],
                rank=r["rank"],
                beaten_by=r["beaten_by"],
            )
            for r in rows
        ],
    )


def export_csv(
    *,
    uow: UnitOfWork,
    con: BaseBackend,
    run_id: int,
    filters: ListFilter,
    unmask: bool,
    directory: Path | None = None,
) -> Iterator[str]:
    """Record the export (committed first), then the filtered list as CSV text chunks."""
    path = list_file(uow=uow, run_id=run_id, directory=directory)
    backend = con.backend if isinstance(con, ScopedWarehouse) else con
    listed = backend.read_parquet(str(path))
    for name in FILTER_FIELDS:
        value = getattr(filters, name)
        if value is not None:
            wanted = value if isinstance(value, int) else str(value)
            listed = listed.filter(listed[name] == ibis.literal(wanted))
    subscribers = backend.table("subscribers")
    numbers = subscribers.select(_m_sub=subscribers.subscriber_id, msisdn=subscribers.msisdn)
    joined = listed.left_join(numbers, listed.subscriber_id == numbers._m_sub).drop("_m_sub")
    msisdn = joined.msisdn if unmask else mask_column(PersonalKind.MSISDN, joined.msisdn)
    table = (
        joined.mutate(msisdn=msisdn).select(*LIST_COLUMNS).order_by("case_code", "subscriber_id")
    )
    record_export(
        uow=uow,
        what=f"contact list of targeting run {run_id}",
        entity_type=ENTITY,
        entity_id=str(run_id),
        details={"run_id": run_id, "filters": filters.as_details(), "unmasked": unmask},
    )
    uow.commit()
    # Read now, while the caller holds the warehouse: the response streams after the
    # route has returned and released it.
    rows_read = table.to_pyarrow()

    def rows() -> Iterator[list[Any]]:
        for batch in rows_read.to_batches(max_chunksize=BATCH_ROWS):
            columns = [batch.column(c).to_pylist() for c in LIST_COLUMNS]
            yield from (list(row) for row in zip(*columns, strict=True))

    return csv_chunks(LIST_COLUMNS, rows())
