"""Outbox test data: a case, a complete targeting run with a hand-made list, outbox rows.

Rows are written straight to the tables (the case and run services need a
warehouse, segments and snapshots); the list file is written in the run's own
``LIST_SCHEMA`` and recorded with its real SHA-256, so ``list_file`` verifies it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import insert
from sqlalchemy.orm import Session

from telmark.cases.domain import CaseLevel, CaseStatus, Objective
from telmark.cases.models import Case
from telmark.execution.channels.base import ChannelKind, Message, Outcome, Receipt, SendResult
from telmark.execution.domain import OutboxState, outbox_key
from telmark.execution.models import OutboxMessage
from telmark.segments.snapshots.store import file_digest
from telmark.targeting.domain import RunStatus
from telmark.targeting.models import TargetingRun
from telmark.targeting.results import LIST_SCHEMA

EPOCH = datetime(2026, 10, 5, 2, 0, tzinfo=UTC)  # 10:00 in the province: inside 08:00–21:00


def add_case(session: Session, code: str = "RENEW", org_code: str = "P") -> int:
    case = Case(
        code=code, name=f"测试{code}", owner="planner", level=CaseLevel.PROVINCE,
        org_code=org_code, objective=Objective.RETAIN, lines=[], channels=["sms"],
        starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31), horizon_months=12,
        checkpoints=[], kpis=[], budget_fen=0, holdout_bp=1000, priority=5,
        business_weight_bp=5000, status=CaseStatus.ISSUED, version=1, created_by="planner",
    )  # fmt: skip
    session.add(case)
    session.flush()
    return case.id


def list_row(case_id: int, code: str, subscriber_id: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "planned_on": date(2026, 10, 5), "case_id": case_id, "case_code": code,
        "subscriber_id": subscriber_id, "group": "treatment", "channel": "sms",
        "offer_code": None, "city_id": "C1", "outlet_id": "C1D1O1", "account_manager_id": None,
        "priority": 5, "business_weight_bp": 5000, "propensity": 100, "value": 100,
        "score": 1000, "rank": 1, "beaten_by": None, "send_from": "08:00", "send_until": "21:00",
    }  # fmt: skip
    row.update(overrides)
    return row


def add_run(session: Session, directory: Path, rows: Sequence[dict[str, Any]]) -> int:
    """A complete targeting run whose list file holds ``rows``."""
    run = TargetingRun(
        run_key=f"test-{datetime.now(UTC).timestamp()}", status=RunStatus.RUNNING,
        run_on=date(2026, 10, 5), policy_version=0, fingerprint="0" * 64,
        cases=sorted({(r["case_id"], r["case_code"]) for r in rows}), file_path="",
        created_by="planner",
    )  # fmt: skip
    run.cases = [{"case_id": i, "code": c} for i, c in run.cases]
    session.add(run)
    session.flush()
    relative = f"run-{run.id}.parquet"
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows), schema=LIST_SCHEMA), directory / relative)
    digest, size = file_digest(directory / relative)
    run.file_path = relative
    run.status = RunStatus.COMPLETE
    run.sha256, run.byte_size = digest, size
    run.contacts = sum(r["group"] == "treatment" for r in rows)
    run.controls = sum(r["group"] == "control" for r in rows)
    run.summary = {}
    run.completed_at = datetime.now(UTC)
    session.flush()
    return run.id


def number(i: int) -> str:
    return f"8613{i:09d}"


def add_outbox(
    session: Session,
    *,
    run_id: int,
    case_id: int,
    count: int,
    channel: str = "sms",
    start: int = 0,
    planned_on: date = date(2026, 10, 5),
    window: tuple[str, str] | None = ("08:00", "21:00"),
    due: datetime = EPOCH,
) -> None:
    """``count`` planned rows; row i goes to ``number(i)`` with the text ``text(i)``."""
    rows = [
        {
            "key": outbox_key(run_id=run_id, case_id=case_id, subscriber_id=i, channel=channel),
            "run_id": run_id,
            "case_id": case_id,
            "case_code": "RENEW",
            "subscriber_id": i,
            "channel": channel,
            "address": number(i),
            "body": text(i),
            "subject": None,
            "city_id": "C1",
            "outlet_id": None,
            "planned_on": planned_on,
            "send_from": window[0] if window else None,
            "send_until": window[1] if window else None,
            "state": OutboxState.PLANNED,
            "attempts": 0,
            "next_attempt_at": due,
            "created_at": due,
            "updated_at": due,
        }  # fmt: skip
        for i in range(start, start + count)
    ]
    session.execute(insert(OutboxMessage), rows)


def text(i: int) -> str:
    return f"M{i:06d} 尊敬的客户，您的续约礼包已到账。"


class FakeChannel:
    """Records every message; answers by ``plan`` (key → outcomes, one per attempt)."""

    kind = ChannelKind.SMS

    def __init__(self, plan: dict[str, list[Outcome]] | None = None) -> None:
        self.plan = plan or {}
        self.sent: list[Message] = []
        self.receipts: asyncio.Queue[Receipt] = asyncio.Queue()
        self._ids = 0

    async def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        results = []
        for message in messages:
            self.sent.append(message)
            outcomes = self.plan.get(message.key, [])
            outcome = outcomes.pop(0) if outcomes else Outcome.ACCEPTED
            if outcome is Outcome.ACCEPTED:
                self._ids += 1
                results.append(SendResult(message.key, outcome, (f"id{self._ids}",)))
            else:
                results.append(SendResult(message.key, outcome, error=f"{outcome} error"))
        return results

    async def close(self) -> None:
        return None
