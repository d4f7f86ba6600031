"""Showing and exporting personal data: masked by default, in clear only audited.

The one mechanism every view and export of personal data goes through:

- ``disclose`` for something shown (a page, an API response, CLI output):
  masked, or — when ``unmask`` — in clear after a ``read`` entry has been
  committed to the audit trail;
- ``exporter`` for a file: the export is always recorded (masked or not,
  with which), and the returned function masks each record unless ``unmask``.

Who may unmask is decided by the caller from the principal's rights
(``may_unmask``) or, on the CLI, from an explicit ``--unmask`` flag; the
audit entry names the unit of work's actor either way. Which fields are
personal comes from ``masking`` (``contract_fields`` for warehouse tables,
``__audit_personal__`` mappings for operational ones).

Example (customer 360, later)::

    fields = contract_fields(contract.SUBSCRIBERS)
    rows = disclose(uow=uow, records=rows, fields=fields, unmask=may_unmask(principal),
                    what="customer 360", entity_type="subscribers",
                    entity_ids=[str(r["subscriber_id"]) for r in rows])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from telmark.audit.service import record_export, record_read
from telmark.auth.domain import Principal
from telmark.auth.permissions import Action
from telmark.privacy.masking import PersonalKind, mask_record
from telmark.uow import UnitOfWork

MAX_IDS_RECORDED = 1000  # ids listed in one read entry; the count is always exact


def may_unmask(principal: Principal) -> bool:
    """True if ``principal`` may see personal data in clear."""
    return principal.can(Action.UNMASK)


def _reveals(records: Sequence[Mapping[str, Any]], fields: Mapping[str, PersonalKind]) -> bool:
    return any(r.get(f) is not None for r in records for f in fields)


def disclose(
    *,
    uow: UnitOfWork,
    records: Sequence[Mapping[str, Any]],
    fields: Mapping[str, PersonalKind],
    unmask: bool,
    what: str,
    entity_type: str,
    entity_ids: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``records`` masked by ``fields``, or in clear once the read is recorded and committed.

    Nothing is recorded when nothing personal would be shown (no records, or
    none holding a value in ``fields``).
    """
    if not unmask:
        return [mask_record(r, fields) for r in records]
    if _reveals(records, fields):
        record_read(
            uow=uow,
            what=what,
            entity_type=entity_type,
            entity_id=entity_ids[0] if len(entity_ids) == 1 else None,
            details={
                **(details or {}),
                "records": len(records),
                "ids": list(entity_ids[:MAX_IDS_RECORDED]),
            },
        )
        uow.commit()
    return [dict(r) for r in records]


def exporter(
    *,
    uow: UnitOfWork,
    fields: Mapping[str, PersonalKind],
    unmask: bool,
    what: str,
    entity_type: str,
    details: Mapping[str, Any] | None = None,
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Record (and commit) an export of ``what``; return the function that prepares each record."""
    record_export(
        uow=uow,
        what=what,
        entity_type=entity_type,
        details={**(details or {}), "unmasked": unmask},
    )
    uow.commit()
    if unmask:
        return dict
    return lambda record: mask_record(record, fields)
