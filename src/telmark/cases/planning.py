"""Planning a case: its revenue projection, creating it (blank or from a template) and
editing the draft. The projection is recomputed from today's offer economics on every
read and edit until the case is approved; approval stores it, frozen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from telmark.cases import domain, projection
from telmark.cases.access import check_version, get_case_row, managed, read, record, save, unit_of
from telmark.cases.domain import (
    RETENTION_OBJECTIVES,
    CaseAction,
    CaseLevel,
    CaseStatus,
)
from telmark.cases.models import Case
from telmark.cases.schemas import (
    CaseCreate,
    CaseDetail,
    CasePlan,
    CaseUpdate,
    FromTemplate,
    OfferBasis,
    ProjectionRead,
    RetentionRead,
    TemplateRead,
)
from telmark.cases.templates import BY_KEY, CONTACT_COST_FEN, TEMPLATES
from telmark.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from telmark.offers import service as offers
from telmark.org.domain import OrgKind
from telmark.org.models import OrgUnit
from telmark.org.scope import get_visible_unit
from telmark.segments.domain import SnapshotStatus
from telmark.segments.models import SegmentSnapshot
from telmark.segments.snapshots import store
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table

CHURN_TABLE = "churn_scores"
VALUE_TABLE = "customer_value"
NOTE_RETENTION_ABSENT = N_(
    "Churn scores or customer value are absent from the warehouse: retained revenue is not "
    "counted in this projection."
)
NOTE_NO_WAREHOUSE = N_(
    "The warehouse was not consulted: retained revenue is not counted in this projection."
)
NOTE_NO_SNAPSHOT = N_("Choose a ready segment snapshot to project this case.")
NOTE_NO_LINES = N_("Add at least one offer and channel line to project this case.")
NOTE_UNSCORED = N_("No member of the snapshot has a churn score: retained revenue is not counted.")


def get_case(
    *,
    uow: UnitOfWork,
    case_id: int,
    con: BaseBackend | None = None,
    directory: Path | None = None,
) -> CaseDetail:
    """One case with its projection (live before approval, frozen after)."""
    case = get_case_row(uow, case_id)
    return CaseDetail(case=read(uow, case), projection=_projection(uow, case, con, directory))


def list_templates() -> list[TemplateRead]:
    """The templates for common cases."""
    return [
        TemplateRead(
            key=t.key,
            name=t.name,
            description=t.description,
            objective=t.objective,
            hypothesis=t.hypothesis,
            channels=[
                {"channel": c.channel.value, "reach_bp": c.reach_bp, "take_up_bp": c.take_up_bp}
                for c in t.channels
            ],
            duration_days=t.duration_days,
            horizon_months=t.horizon_months,
            holdout_bp=t.holdout_bp,
            priority=t.priority,
            business_weight_bp=t.business_weight_bp,
            kpis=[
                {"metric": k.metric.value, "target_bp_of_projection": k.target_bp_of_projection}
                for k in t.kpis
            ],
            checkpoints=[
                {
                    "day": c.day,
                    "metric": c.metric.value,
                    "target_bp_of_projection": c.target_bp_of_projection,
                }
                for c in t.checkpoints
            ],
        )
        for t in TEMPLATES
    ]


# --- projection ---------------------------------------------------------------------------


def _offer_basis(uow: UnitOfWork, codes: Sequence[str]) -> dict[str, OfferBasis]:
    basis: dict[str, OfferBasis] = {}
    for code in dict.fromkeys(codes):
        offer = offers.get_offer(uow=uow, code=code)
        basis[code] = OfferBasis(
            offer_code=code,
            offer_version=offer.version,
            net_incentive_cost_fen=offer.economics.net_incentive_cost_fen,
            incremental_monthly_revenue_fen=offer.economics.incremental_monthly_revenue_fen,
            channel_cost_fen_per_month=offer.economics.channel_cost_fen_per_month,
        )
    return basis


def _retention(
    uow: UnitOfWork, case: Case, con: BaseBackend | None, directory: Path | None
) -> tuple[RetentionRead | None, str | None]:
    """Mean churn probability and ARPU of the snapshot's members, or why they are absent."""
    if con is None or directory is None or case.snapshot_id is None:
        return None, NOTE_NO_WAREHOUSE
    if not (has_table(con, CHURN_TABLE) and has_table(con, VALUE_TABLE)):
        return None, NOTE_RETENTION_ABSENT
    churn = con.table(CHURN_TABLE)
    value = con.table(VALUE_TABLE)
    if "churn_probability" not in churn.columns or "monetary_fen" not in value.columns:
        return None, NOTE_RETENTION_ABSENT
    members = store.snapshot_members(
        uow=uow, con=con, directory=directory, snapshot_id=case.snapshot_id
    )
    ids = members.select(m_id=members.subscriber_id)
    scored = ids.inner_join(churn, ids.m_id == churn.subscriber_id)
    churn_row = (
        scored.aggregate(n=scored.count(), p=scored.churn_probability.mean())
        .to_pyarrow()
        .to_pylist()[0]
    )
    valued = ids.inner_join(value, ids.m_id == value.subscriber_id)
    arpu = valued.aggregate(a=valued.monetary_fen.mean()).to_pyarrow().to_pylist()[0]["a"]
    if not churn_row["n"] or churn_row["p"] is None:
        return None, NOTE_UNSCORED
    # The means are analytics; what the projection multiplies with is whole bp and fen.
    return (
        RetentionRead(
            churn_probability_bp=round(float(churn_row["p"]) * domain.BP),
            arpu_fen=round(float(arpu or 0)),
            scored_members=int(churn_row["n"]),
        ),
        None,
    )


def live_projection(
    uow: UnitOfWork, case: Case, con: BaseBackend | None, directory: Path | None
) -> ProjectionRead:
    notes: list[str] = []
    snapshot = (
        None if case.snapshot_id is None else uow.session.get(SegmentSnapshot, case.snapshot_id)
    )
    if snapshot is None or snapshot.member_count is None:
        notes.append(NOTE_NO_SNAPSHOT)
    if not case.lines:
        notes.append(NOTE_NO_LINES)
    if notes or snapshot is None or snapshot.member_count is None:
        return ProjectionRead(
            available=False, frozen=False, budget_fen=case.budget_fen, notes=notes
        )
    basis = _offer_basis(uow, [line["offer_code"] for line in case.lines])
    retention: RetentionRead | None = None
    if case.objective in RETENTION_OBJECTIVES:
        retention, note = _retention(uow, case, con, directory)
        if note is not None:
            notes.append(note)
    result = projection.project(
        members=snapshot.member_count,
        holdout_bp=case.holdout_bp,
        horizon_months=case.horizon_months,
        lines=[projection.Line(**line) for line in case.lines],
        offers={
            code: projection.OfferTerms(
                net_incentive_cost_fen=b.net_incentive_cost_fen,
                incremental_monthly_revenue_fen=b.incremental_monthly_revenue_fen,
                channel_cost_fen_per_month=b.channel_cost_fen_per_month,
            )
            for code, b in basis.items()
        },
        retention=None
        if retention is None
        else projection.RetentionBasis(retention.churn_probability_bp, retention.arpu_fen),
        notes=notes,
    )
    data: dict[str, Any] = asdict(result)
    return ProjectionRead.model_validate(
        {
            **data,
            "available": True,
            "frozen": False,
            "budget_fen": case.budget_fen,
            "within_budget": result.totals.cost_fen <= case.budget_fen,
            "offers": list(basis.values()),
            "retention": retention,
        }
    )


def _projection(
    uow: UnitOfWork, case: Case, con: BaseBackend | None, directory: Path | None
) -> ProjectionRead:
    if case.frozen_projection is not None:
        frozen = ProjectionRead.model_validate(case.frozen_projection)
        return frozen.model_copy(update={"frozen": True, "frozen_at": case.frozen_at})
    return live_projection(uow, case, con, directory)


def case_projection(
    *,
    uow: UnitOfWork,
    case_id: int,
    con: BaseBackend | None = None,
    directory: Path | None = None,
) -> ProjectionRead:
    """The case's projection: recomputed from today's offer economics until it is approved,
    then the one frozen at approval."""
    return _projection(uow, get_case_row(uow, case_id), con, directory)


# --- creating and editing --------------------------------------------------------------


def _level_of(unit: OrgUnit) -> CaseLevel:
    if unit.kind is OrgKind.PROVINCE:
        return CaseLevel.PROVINCE
    if unit.kind is OrgKind.CITY:
        return CaseLevel.CITY
    raise InvalidInput(
        f"org_code: cases are made by the province or a city, not a {unit.kind} ({unit.code})",
        details=[{"field": "org_code"}],
    )


def _check_snapshot(uow: UnitOfWork, snapshot_id: int, unit: OrgUnit) -> None:
    snapshot = store.get_snapshot(uow=uow, snapshot_id=snapshot_id)  # NotFound out of scope
    if snapshot.status is not SnapshotStatus.READY:
        raise InvalidInput(
            f"snapshot_id: snapshot {snapshot_id} is {snapshot.status}, not ready",
            details=[{"field": "snapshot_id"}],
        )
    members_unit = unit_of(uow, snapshot.org_code)
    if not members_unit.path.startswith(unit.path):
        raise InvalidInput(
            f"snapshot_id: snapshot {snapshot_id} holds lines of {snapshot.org_code}, outside "
            f"{unit.code}",
            details=[{"field": "snapshot_id"}],
        )


def _lines(uow: UnitOfWork, plan: CasePlan) -> list[dict[str, Any]]:
    problems: list[dict[str, object]] = []
    for i, line in enumerate(plan.lines):
        try:
            offers.get_offer(uow=uow, code=line.offer_code)
        except NotFound:
            problems.append({"field": f"lines[{i}].offer_code", "reason": "no such offer"})
    if plan.claim is not None and plan.claim.offer_code not in {ln.offer_code for ln in plan.lines}:
        problems.append({"field": "claim.offer_code", "reason": "not an offer of the plan"})
    for i, checkpoint in enumerate(plan.checkpoints):
        if not plan.starts_on <= checkpoint.on <= plan.ends_on:
            problems.append({"field": f"checkpoints[{i}].on", "reason": "outside the schedule"})
    if problems:
        raise InvalidInput(f"{problems[0]['field']}: {problems[0]['reason']}", details=problems)
    lines = [
        projection.Line(
            offer_code=ln.offer_code,
            channel=ln.channel.value,
            reach_bp=ln.reach_bp,
            take_up_bp=ln.take_up_bp,
            contact_cost_fen=CONTACT_COST_FEN[ln.channel]
            if ln.contact_cost_fen is None
            else ln.contact_cost_fen,
        )
        for ln in plan.lines
    ]
    seen = (ln.offer_code for ln in lines)
    zero = projection.OfferTerms(0, 0, 0)
    projection.check_lines(lines, dict.fromkeys(seen, zero))
    return [asdict(ln) for ln in lines]


def _channels(plan: CasePlan) -> list[str]:
    if plan.channels is not None:
        return [c.value for c in plan.channels]
    return list(dict.fromkeys(ln.channel.value for ln in plan.lines))


def _apply(uow: UnitOfWork, case: Case, plan: CasePlan, unit: OrgUnit) -> None:
    if plan.snapshot_id is not None:
        _check_snapshot(uow, plan.snapshot_id, unit)
    case.lines = _lines(uow, plan)
    case.name = plan.name.strip()
    case.owner = (plan.owner or case.owner or uow.actor.username).strip()
    case.objective = plan.objective
    case.hypothesis = plan.hypothesis.strip()
    case.claim = None if plan.claim is None else plan.claim.model_dump(mode="json")
    case.snapshot_id = plan.snapshot_id
    case.channels = _channels(plan)
    case.starts_on = plan.starts_on
    case.ends_on = plan.ends_on
    case.horizon_months = plan.horizon_months
    case.checkpoints = [c.model_dump(mode="json") for c in plan.checkpoints]
    case.kpis = [k.model_dump(mode="json") for k in plan.kpis]
    case.budget_fen = plan.budget_fen
    case.holdout_bp = plan.holdout_bp
    case.priority = plan.priority
    case.business_weight_bp = plan.business_weight_bp


def _next_code(uow: UnitOfWork) -> str:
    year = offers.province_today().year
    prefix = domain.case_code(year, 0)[: -len("0000")]
    last = uow.session.scalar(
        select(Case.code).where(Case.code.startswith(prefix)).order_by(Case.code.desc()).limit(1)
    )
    number = 1 if last is None else int(last.rsplit("-", 1)[1]) + 1
    return domain.case_code(year, number)


def _insert(uow: UnitOfWork, case: Case) -> None:
    """Insert with the next free code; two creators racing for one code retry once more."""
    for _ in range(5):
        case.code = _next_code(uow)
        try:
            with uow.session.begin_nested():
                uow.session.add(case)
                uow.session.flush()
            return
        except IntegrityError:
            continue
    raise Conflict("could not allocate a case code; try again")


def create_case(
    *,
    uow: UnitOfWork,
    spec: CaseCreate,
    template: str | None = None,
    con: BaseBackend | None = None,
    directory: Path | None = None,
) -> CaseDetail:
    """Save a new draft case in the actor's scope."""
    unit = get_visible_unit(uow, spec.org_code)  # NotFound outside the scope
    case = Case(
        level=_level_of(unit),
        org_code=unit.code,
        template=template,
        owner=spec.owner or uow.actor.username,
        status=CaseStatus.DRAFT,
        submission=0,
        approval_levels=[],
        created_by=uow.actor.username,
    )
    _apply(uow, case, spec, unit)
    _insert(uow, case)
    record(uow, case, CaseAction.CREATE, None)
    result = get_case(uow=uow, case_id=case.id, con=con, directory=directory)
    uow.commit()
    return result


def create_from_template(
    *,
    uow: UnitOfWork,
    spec: FromTemplate,
    con: BaseBackend | None = None,
    directory: Path | None = None,
) -> CaseDetail:
    """A new draft filled from a template, with its KPI and checkpoint targets taken from
    the projection of the template's take-up (when a snapshot and offers are given)."""
    template = BY_KEY.get(spec.template)
    if template is None:
        raise InvalidInput(
            f"template: no template {spec.template!r}; choose one of {', '.join(BY_KEY)}",
            details=[{"field": "template"}],
        )
    lines = [
        {
            "offer_code": code,
            "channel": plan.channel,
            "reach_bp": plan.reach_bp // len(spec.offer_codes),
            "take_up_bp": plan.take_up_bp,
        }
        for code in spec.offer_codes
        for plan in template.channels
    ]
    ends_on = spec.starts_on + timedelta(days=template.duration_days - 1)
    base = CaseCreate.model_validate(
        {
            "name": spec.name,
            "org_code": spec.org_code,
            "objective": template.objective,
            "hypothesis": template.hypothesis,
            "snapshot_id": spec.snapshot_id,
            "lines": lines,
            "channels": [c.channel for c in template.channels],
            "starts_on": spec.starts_on,
            "ends_on": ends_on,
            "horizon_months": template.horizon_months,
            "budget_fen": spec.budget_fen,
            "holdout_bp": template.holdout_bp,
            "priority": template.priority,
            "business_weight_bp": template.business_weight_bp,
        }
    )
    detail = create_case(uow=uow, spec=base, template=template.key, con=con, directory=directory)
    totals = detail.projection.totals
    if totals is None:
        return detail
    projected = {
        "contacts": totals.contacts,
        "takers": totals.takers,
        "take_up_bp": 0 if not totals.contacts else totals.takers * domain.BP // totals.contacts,
        "incremental_revenue_fen": totals.incremental_revenue_fen,
        "retained_subscribers": totals.takers,
        "roi_bp": totals.roi_bp or 0,
    }

    def target(metric: str, share_bp: int) -> int:
        return projected[metric] * share_bp // domain.BP

    update = CaseUpdate.model_validate(
        {
            **base.model_dump(exclude={"org_code"}),
            "kpis": [
                {"metric": k.metric, "target": target(k.metric, k.target_bp_of_projection)}
                for k in template.kpis
            ],
            "checkpoints": [
                {
                    "on": min(ends_on, spec.starts_on + timedelta(days=c.day)),
                    "metric": c.metric,
                    "target": target(c.metric, c.target_bp_of_projection),
                }
                for c in template.checkpoints
            ],
        }
    )
    return update_case(uow=uow, case_id=detail.case.id, spec=update, con=con, directory=directory)


def update_case(
    *,
    uow: UnitOfWork,
    case_id: int,
    spec: CaseUpdate,
    con: BaseBackend | None = None,
    directory: Path | None = None,
) -> CaseDetail:
    """Replace a draft's plan; the projection is recomputed with it."""
    case, unit = managed(uow, case_id)
    check_version(case, spec.version)
    if case.status not in domain.EDITABLE:
        raise InvalidTransition(
            f"case is {case.status}; only a draft is edited (a rejected case goes back to "
            "draft with rework)",
            details=[{"field": "status", "from": str(case.status), "to": str(case.status)}],
        )
    _apply(uow, case, spec, unit)
    save(uow, case)
    record(uow, case, CaseAction.EDIT, case.status)
    result = get_case(uow=uow, case_id=case.id, con=con, directory=directory)
    uow.commit()
    return result
