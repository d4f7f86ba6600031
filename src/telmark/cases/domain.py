"""Marketing cases (营销案): the life cycle, approval routing and issuing rules, pure.

Life cycle. One table, ``TRANSITIONS``, says from which statuses each action
may be taken and which status it leads to; ``transition`` is the only place a
case's status is decided, and ``ALLOWED`` (status → reachable statuses) is
derived from it for display. A rejected case stays ``rejected`` (so the
rejection and its comment are visible in lists and inboxes) until its owner
takes it back to ``draft`` with ``rework``; a submitter may also ``withdraw``
a submitted case. Approval at one level of several leaves the case
``submitted``: only the last level's approval makes it ``approved``.

Approval routing. A province case is approved at the province. A city case is
approved by its city and, when its budget exceeds the configured threshold,
then by the province too (city first: the city vouches for the plan before the
province weighs the money). An approver acts at the level of their own scope —
a city-scoped approver only for cases of their own city, a province-scoped one
at the province level — and never on a case they submitted themselves.

Issuing. A province case's target is split across cities by their base (the
snapshot's members per city) with the largest-remainder method, so the parts
always sum to the total exactly; parts may also be given by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from telmark.errors import Forbidden, InvalidInput, InvalidTransition
from telmark.translation import N_

BP = 10_000
MAX_HOLDOUT_BP = 5_000  # a control group larger than the treated group measures nothing better
MAX_HORIZON_MONTHS = 60
DEFAULT_HORIZON_MONTHS = 12
CODE_PREFIX = "YX"


class CaseStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    ISSUED = "issued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    EVALUATED = "evaluated"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CaseAction(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    APPROVE = "approve"
    REJECT = "reject"
    REWORK = "rework"
    SCHEDULE = "schedule"
    ISSUE = "issue"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    EVALUATE = "evaluate"
    CLOSE = "close"
    CANCEL = "cancel"


class CaseLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"


class Objective(StrEnum):
    ACQUIRE = "acquire"
    RETAIN = "retain"
    ACTIVATE = "activate"
    CONVERT = "convert"
    UPSELL = "upsell"
    CROSS_SELL = "cross_sell"
    WIN_BACK = "win_back"


class IssueStatus(StrEnum):
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"


class AlertKind(StrEnum):
    ACK_OVERDUE = "ack_overdue"
    # Raised by the execution monitor (``telmark.execution.monitor.domain`` has the rules).
    EXECUTION_BEHIND = "execution_behind"
    FAILURE_SPIKE = "failure_spike"
    COMPLAINT_SPIKE = "complaint_spike"
    # Raised when a completed case is not evaluated in time (``evaluation.cases.service``).
    EVALUATION_OVERDUE = "evaluation_overdue"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Metric(StrEnum):
    """What a KPI or checkpoint measures (evaluation reads the same names)."""

    CONTACTS = "contacts"
    TAKERS = "takers"
    TAKE_UP_BP = "take_up_bp"
    INCREMENTAL_REVENUE_FEN = "incremental_revenue_fen"
    RETAINED_SUBSCRIBERS = "retained_subscribers"
    ROI_BP = "roi_bp"


# Objectives whose benefit is revenue kept rather than revenue added: their projection
# adds retained revenue from churn scores and customer value (see projection.py).
RETENTION_OBJECTIVES = frozenset({Objective.RETAIN, Objective.WIN_BACK})

STATUS_LABELS: Mapping[CaseStatus, str] = {
    CaseStatus.DRAFT: N_("Draft"),
    CaseStatus.SUBMITTED: N_("Submitted"),
    CaseStatus.APPROVED: N_("Approved"),
    CaseStatus.REJECTED: N_("Rejected"),
    CaseStatus.SCHEDULED: N_("Scheduled"),
    CaseStatus.ISSUED: N_("Issued"),
    CaseStatus.RUNNING: N_("Running"),
    CaseStatus.PAUSED: N_("Paused"),
    CaseStatus.COMPLETED: N_("Completed"),
    CaseStatus.EVALUATED: N_("Evaluated"),
    CaseStatus.CLOSED: N_("Closed"),
    CaseStatus.CANCELLED: N_("Called off"),
}
ACTION_LABELS: Mapping[CaseAction, str] = {
    CaseAction.CREATE: N_("Case created"),
    CaseAction.EDIT: N_("Edited"),
    CaseAction.SUBMIT: N_("Submitted for approval"),
    CaseAction.WITHDRAW: N_("Withdrawn"),
    CaseAction.APPROVE: N_("Approved"),
    CaseAction.REJECT: N_("Rejected"),
    CaseAction.REWORK: N_("Taken back for rework"),
    CaseAction.SCHEDULE: N_("Scheduled"),
    CaseAction.ISSUE: N_("Issued"),
    CaseAction.START: N_("Started"),
    CaseAction.PAUSE: N_("Paused"),
    CaseAction.RESUME: N_("Resumed"),
    CaseAction.COMPLETE: N_("Completed"),
    CaseAction.EVALUATE: N_("Evaluated"),
    CaseAction.CLOSE: N_("Closed"),
    CaseAction.CANCEL: N_("Called off"),
}
LEVEL_LABELS: Mapping[CaseLevel, str] = {
    CaseLevel.PROVINCE: N_("Province level"),
    CaseLevel.CITY: N_("City level"),
}
OBJECTIVE_LABELS: Mapping[Objective, str] = {
    Objective.ACQUIRE: N_("Acquire"),
    Objective.RETAIN: N_("Retain"),
    Objective.ACTIVATE: N_("Activate usage"),
    Objective.CONVERT: N_("Convert"),
    Objective.UPSELL: N_("Upsell"),
    Objective.CROSS_SELL: N_("Cross-sell"),
    Objective.WIN_BACK: N_("Win back"),
}
ISSUE_STATUS_LABELS: Mapping[IssueStatus, str] = {
    IssueStatus.ISSUED: N_("Awaiting acknowledgement"),
    IssueStatus.ACKNOWLEDGED: N_("Acknowledged"),
}
ALERT_STATUS_LABELS: Mapping[AlertStatus, str] = {
    AlertStatus.OPEN: N_("Awaiting follow-up"),
    AlertStatus.ACKNOWLEDGED: N_("Being followed up"),
    AlertStatus.RESOLVED: N_("Cleared"),
}
METRIC_LABELS: Mapping[Metric, str] = {
    Metric.CONTACTS: N_("Contacts"),
    Metric.TAKERS: N_("Takers"),
    Metric.TAKE_UP_BP: N_("Take-up rate"),
    Metric.INCREMENTAL_REVENUE_FEN: N_("Incremental revenue"),
    Metric.RETAINED_SUBSCRIBERS: N_("Retained subscribers"),
    Metric.ROI_BP: N_("ROI"),
}

_S = CaseStatus
_OPEN = frozenset({_S.DRAFT, _S.SUBMITTED, _S.REJECTED, _S.APPROVED, _S.SCHEDULED, _S.ISSUED})

# The life cycle: action → (statuses it may be taken from, status it leads to).
TRANSITIONS: Mapping[CaseAction, tuple[frozenset[CaseStatus], CaseStatus]] = {
    CaseAction.SUBMIT: (frozenset({_S.DRAFT}), _S.SUBMITTED),
    CaseAction.WITHDRAW: (frozenset({_S.SUBMITTED}), _S.DRAFT),
    CaseAction.APPROVE: (frozenset({_S.SUBMITTED}), _S.APPROVED),
    CaseAction.REJECT: (frozenset({_S.SUBMITTED}), _S.REJECTED),
    CaseAction.REWORK: (frozenset({_S.REJECTED}), _S.DRAFT),
    CaseAction.SCHEDULE: (frozenset({_S.APPROVED}), _S.SCHEDULED),
    CaseAction.ISSUE: (frozenset({_S.SCHEDULED}), _S.ISSUED),
    # A case run centrally (no units to issue to) starts straight from scheduled.
    CaseAction.START: (frozenset({_S.SCHEDULED, _S.ISSUED}), _S.RUNNING),
    CaseAction.PAUSE: (frozenset({_S.RUNNING}), _S.PAUSED),
    CaseAction.RESUME: (frozenset({_S.PAUSED}), _S.RUNNING),
    # A paused case that reaches its end is completed without resuming it first.
    CaseAction.COMPLETE: (frozenset({_S.RUNNING, _S.PAUSED}), _S.COMPLETED),
    CaseAction.EVALUATE: (frozenset({_S.COMPLETED}), _S.EVALUATED),
    CaseAction.CLOSE: (frozenset({_S.EVALUATED}), _S.CLOSED),
    CaseAction.CANCEL: (_OPEN | {_S.RUNNING, _S.PAUSED}, _S.CANCELLED),
}

ALLOWED: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    status: frozenset(to for froms, to in TRANSITIONS.values() if status in froms)
    for status in CaseStatus
}
EDITABLE = frozenset({_S.DRAFT})
# Statuses whose cases targeting may run (``targeting_inputs`` without explicit ids).
TARGETABLE = frozenset({_S.SCHEDULED, _S.ISSUED, _S.RUNNING})
# Statuses in which a case's units may still acknowledge, localise and re-issue.
ISSUE_OPEN = frozenset({_S.ISSUED, _S.RUNNING, _S.PAUSED})


def transition(current: CaseStatus, action: CaseAction) -> CaseStatus:
    """The status ``action`` leads to from ``current``; InvalidTransition naming both if not."""
    if action not in TRANSITIONS:
        raise InvalidTransition(f"{action} is not a life-cycle action")
    froms, to = TRANSITIONS[action]
    if current not in froms:
        raise InvalidTransition(
            f"case is {current}; {action} would make it {to}, which is allowed only from "
            + ", ".join(sorted(froms)),
            details=[{"field": "status", "from": str(current), "to": str(to)}],
        )
    return to


def actions_from(status: CaseStatus) -> list[CaseAction]:
    """The life-cycle actions that may be taken from ``status`` (for buttons)."""
    return [a for a, (froms, _) in TRANSITIONS.items() if status in froms]


# --- approval routing -----------------------------------------------------------------


def approval_route(
    level: CaseLevel, *, budget_fen: int, province_threshold_fen: int
) -> tuple[CaseLevel, ...]:
    """The levels that must approve, in order: city (then province above the threshold)."""
    if level is CaseLevel.PROVINCE:
        return (CaseLevel.PROVINCE,)
    if budget_fen > province_threshold_fen:
        return (CaseLevel.CITY, CaseLevel.PROVINCE)
    return (CaseLevel.CITY,)


def pending_level(route: Sequence[CaseLevel], done: Sequence[CaseLevel]) -> CaseLevel | None:
    """The next level that must approve (None once every level has)."""
    for level in route:
        if level not in done:
            return level
    return None


def approver_level(
    *, approver_scope: str | None, case_level: CaseLevel, case_org_path: str
) -> CaseLevel | None:
    """The level at which an approver may act on a case; None if at none.

    Province scope (None = unrestricted, or the root unit) acts at the province
    level; a city-scoped approver acts at city level on cases of exactly their
    city. Nobody below a city approves.
    """
    if approver_scope is None or approver_scope.strip("/").count("/") == 0:
        return CaseLevel.PROVINCE
    if case_level is CaseLevel.CITY and approver_scope == case_org_path:
        return CaseLevel.CITY
    return None


def check_approval(
    *,
    route: Sequence[CaseLevel],
    done: Sequence[CaseLevel],
    acting: CaseLevel | None,
    approver: str,
    submitter: str | None,
) -> CaseLevel:
    """The level an approval or rejection is recorded at; Forbidden if the approver may not act.

    Segregation of duties: the submitter never decides on their own submission.
    """
    if submitter is not None and approver == submitter:
        raise Forbidden("you submitted this case: someone else must approve or reject it")
    wanted = pending_level(route, done)
    if wanted is None:  # only reachable if the status and the records disagree
        raise InvalidTransition("every level has already approved this case")
    if acting is not wanted:
        raise Forbidden(
            f"this case waits for {wanted}-level approval; your scope acts at "
            + ("no approval level" if acting is None else f"the {acting} level"),
        )
    return wanted


# --- splitting a target ---------------------------------------------------------------


def split_by_base(total: int, bases: Mapping[str, int]) -> dict[str, int]:
    """``total`` split in proportion to ``bases`` by largest remainder; parts sum to ``total``.

    Each part gets the floor of its quota; the units left over go one each to
    the largest fractional remainders (ties to the larger base, then the code),
    so the split is exact and the same every time.
    """
    if total < 0:
        raise InvalidInput("target: must not be negative", details=[{"field": "target"}])
    if any(b < 0 for b in bases.values()):
        raise InvalidInput("base sizes must not be negative", details=[{"field": "split"}])
    whole = sum(bases.values())
    if not bases or whole == 0:
        raise InvalidInput(
            "no base to split by: the snapshot has no members in the units issued to",
            details=[{"field": "split"}],
        )
    parts = {code: total * base // whole for code, base in bases.items()}
    remainders = {code: total * base % whole for code, base in bases.items()}
    left = total - sum(parts.values())
    order = sorted(bases, key=lambda c: (-remainders[c], -bases[c], c))
    for code in order[:left]:
        parts[code] += 1
    return parts


def check_manual_split(total: int, parts: Mapping[str, int]) -> dict[str, int]:
    """A split given by hand, checked: non-negative parts that sum to the total."""
    problems: list[dict[str, object]] = [
        {"field": f"split.{code}", "reason": "must not be negative"}
        for code, part in parts.items()
        if part < 0
    ]
    if not parts:
        problems.append({"field": "split", "reason": "give at least one unit"})
    elif sum(parts.values()) != total:
        problems.append(
            {"field": "split", "reason": f"parts sum to {sum(parts.values())}, not {total}"}
        )
    if problems:
        raise InvalidInput("split: the parts do not add up to the target", details=problems)
    return dict(parts)


def ack_overdue(*, status: IssueStatus, due_at: datetime, now: datetime) -> bool:
    """An issue not acknowledged by its deadline."""
    return status is IssueStatus.ISSUED and now > due_at


def case_code(year: int, number: int) -> str:
    """The human code of a case: ``YX-2026-0001``."""
    return f"{CODE_PREFIX}-{year}-{number:04d}"


# --- what targeting needs -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseTargeting:
    """A case as a targeting run needs it (``targeting.domain.TargetCase``)."""

    case_id: int
    code: str
    org_path: str  # the issuing unit's path
    priority: int  # 1–9, 9 highest
    business_weight_bp: int  # 0–10000
    snapshot_id: int
    offer_codes: tuple[str, ...]
    channels: tuple[str, ...]  # telmark.consent.domain.Channel values, in preference order
    holdout_bp: int
    starts_on: date
    ends_on: date
    # (unit code, rule JSON) of each unit that narrowed its part (``issuing.localise``)
    local_rules: tuple[tuple[str, str], ...] = ()
    # (unit code, ((channel, share bp), ...)) of each unit that set its channel mix
    local_channels: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()
