"""The demo's case in execution: one case taken from approval to responses, so a new console
shows a live funnel — contacts sent, front-line tasks where a city chose its outlets,
responses coming back against the control group, and the monitor's view of it.

A 4G→5G upgrade case (SMS, app push and front-line tasks) started twenty days ago goes through
the real service calls, each step by the demo user who would take it: approval, scheduling,
issue to the cities (the first acknowledges and sends half of its lines to its outlets with a
local channel mix) and start; its messages; a targeting run on its first day; the outbox and
the tasks; dispatch on the sandbox channel (``channels.sandbox``: the demo province has no
real subscribers, so messages are written to ``<data dir>/sandbox/`` and marked ``sandbox-``
wherever they are shown); responses drawn from the generated province's hidden response
model (``responses.simulate``); and a monitor scan. Nothing here writes rows directly, and a
rerun adds nothing (the case is found by name).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ibis.backends import BaseBackend
from sqlalchemy import select

from telmark.actor import Actor
from telmark.cases import issuing, planning
from telmark.cases import service as cases_service
from telmark.cases.models import Case
from telmark.cases.schemas import FromTemplate, IssueIn, LocaliseIn
from telmark.cases.seed import UPGRADE, act_as, example_snapshot
from telmark.config import Settings
from telmark.execution import loading
from telmark.execution import service as execution_service
from telmark.execution.channels.base import ChannelKind
from telmark.execution.channels.sandbox import SandboxChannel
from telmark.execution.dispatch import Dispatcher
from telmark.execution.dispatch_steps import DispatchConfig
from telmark.execution.monitor import scan as monitor_scan
from telmark.execution.responses import simulate as responses_simulate
from telmark.execution.schemas import DispatchRead, TemplateIn
from telmark.execution.tasks import service as tasks_service
from telmark.offers.models import Offer
from telmark.offers.service import province_today
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.targeting import service as targeting
from telmark.uow import UnitOfWork
from telmark.warehouse.contract import PROVINCE_TZ

NAME = "4G用户5G升级（执行中）"
STARTED_DAYS_AGO = 20
MESSAGES = {
    "sms": TemplateIn(
        body="【电信】尊敬的客户，您的手机已支持5G：{{ offer_name }}，详询营业厅或回复1办理。"
        "退订回T"
    ),
    "app_push": TemplateIn(body="5G专享：{{ offer_name }}，点击查看办理方式"),
}
KINDS = {"sms": ChannelKind.SMS, "app_push": ChannelKind.WEBHOOK}
MIX = {
    "channels": [{"channel": "sms", "share_bp": 5000}, {"channel": "frontline", "share_bp": 5000}]
}


@dataclass(frozen=True, slots=True)
class LiveCase:
    """What the seed did: the case, its run, and how many contacts, tasks and responses."""

    case_id: int
    run_id: int
    sent: int
    tasks: int
    responses: int


def _send_day_clock(day: date) -> datetime:
    # Inside the default send window (08:00–21:00) on the case's first day.
    return datetime.combine(day, time(10, 0), tzinfo=PROVINCE_TZ).astimezone(UTC)


def seed_live_case(
    *, con: BaseBackend, settings: Settings, today: date | None = None
) -> LiveCase | None:
    """Take the demo's live case through execution (module doc); None if it exists already
    or the demo data lacks what it needs (the example segment, the offers)."""
    day = today or province_today()
    starts = day - timedelta(days=STARTED_DAYS_AGO)
    with UnitOfWork() as uow:
        if uow.session.scalar(select(Case.id).where(Case.name == NAME)) is not None:
            return None
        province = uow.session.scalar(select(OrgUnit).where(OrgUnit.kind == OrgKind.PROVINCE))
        offers = set(uow.session.scalars(select(Offer.code)))
        codes = [c for c in ("OF-GIFT-5G079", "OF-LOTTERY-5G") if c in offers]
        folder = settings.resolved_snapshot_dir
        snapshot = example_snapshot(uow, con, folder, UPGRADE)
        if province is None or snapshot is None or not codes:
            return None
        root = province.path
        act_as(uow, "planner", root)
        case_id = planning.create_from_template(
            uow=uow,
            spec=FromTemplate(
                template="upgrade_5g",
                name=NAME,
                org_code=province.code,
                snapshot_id=snapshot,
                offer_codes=codes,
                starts_on=starts,
                budget_fen=80_000_000,
            ),
            con=con,
            directory=folder,
        ).case.id
        cases_service.submit(uow=uow, case_id=case_id)
        act_as(uow, "approver", root)
        cases_service.approve(uow=uow, case_id=case_id, con=con, directory=folder)
        act_as(uow, "planner", root)
        cases_service.schedule(uow=uow, case_id=case_id)
        issuing.issue(uow=uow, case_id=case_id, spec=IssueIn(), con=con, directory=folder)
        # The first city works half of its lines through its outlets (front-line tasks).
        first = issuing.issue_tree(uow=uow, case_id=case_id)[0]
        city = uow.session.scalars(select(OrgUnit).where(OrgUnit.code == first.org_code)).one()
        act_as(uow, f"{city.code.lower()}.manager", city.path)
        issuing.acknowledge(uow=uow, issue_id=first.id)
        issuing.localise(uow=uow, issue_id=first.id, spec=LocaliseIn.model_validate(MIX))
        act_as(uow, "planner", root)
        cases_service.start(uow=uow, case_id=case_id)
        for channel, message in MESSAGES.items():
            execution_service.set_template(uow=uow, case_id=case_id, channel=channel, spec=message)
        run = targeting.run_targeting(
            uow=uow,
            con=con,
            cases=cases_service.targeting_inputs(uow=uow, case_ids=[case_id]),
            run_key=f"demo-live-{case_id}",
            on=starts,
            directory=settings.resolved_targeting_dir,
            snapshot_dir=folder,
            holdout_key=settings.holdout_key.get_secret_value(),
        )
        assert run.id is not None
        loading.load_run(uow=uow, con=con, run_id=run.id, directory=settings.resolved_targeting_dir)
        tasks = tasks_service.generate(
            uow=uow, run_id=run.id, directory=settings.resolved_targeting_dir
        )
    clock = _send_day_clock(starts)
    sent = 0
    for channel, kind in KINDS.items():
        sandbox = SandboxChannel(kind, settings.data_dir / "sandbox", channel)
        dispatcher = Dispatcher(
            DispatchConfig(channel=channel, worker="demo", batch=500, until_empty=True, idle=0.01),
            sandbox,
            uow_factory=lambda: UnitOfWork(actor=_planner(root)),
            now=lambda: clock,
        )
        sent += _run_to_end(dispatcher).sent
    with UnitOfWork(actor=_planner(root)) as uow:
        drawn = responses_simulate.simulate(uow=uow, con=con, case_id=case_id, until=day)
        monitor_scan.scan(uow=uow, con=con)
    return LiveCase(
        case_id=case_id,
        run_id=run.id,
        sent=sent,
        tasks=tasks.created,
        responses=drawn.drawn,
    )


def _run_to_end(dispatcher: Dispatcher) -> DispatchRead:
    """Run the dispatcher to the end, in a thread of its own when the caller already runs an
    event loop (an ASGI app, a notebook): ``asyncio.run`` refuses to nest."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(dispatcher.run())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(dispatcher.run())).result()


def _planner(root: str) -> Actor:
    return Actor(username="planner", scope_path=root, channel="system")
