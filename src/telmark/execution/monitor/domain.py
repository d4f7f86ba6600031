"""Execution monitoring and early warning (执行监控与预警): the pure rules.

Progress against plan
---------------------
A case's checkpoints are targets on a day: "8,000 contacts by 14 October".
A checkpoint is due at the end of its day in the province's time zone, and its
actual is counted up to that moment, so catching up later does not undo a miss.
Between checkpoints the plan is interpolated linearly from the case's start
(where every count is 0) through each checkpoint of the metric, and held at the
last target after it: a case half-way from its start to a checkpoint of 8,000
contacts should have made 4,000. Rates (take-up) are not cumulative and are not
interpolated: the plan on a day is the target of the checkpoint that day falls
in. Units below the case (city, outlet, account manager) are held to the case's
targets in proportion to their share of the case's planned contacts — what they
were actually given to do; a rate target applies to every unit as it is.

A checkpoint is ``met`` (the target reached), ``missed`` (past, and the actual
below the tolerated share of the target, ``execution_ratio_bp``), or ``behind``
(past and short but within tolerance, or not yet due and below the tolerated
share of the plan so far), else ``on_track``. Metrics evaluation measures after
the case (incremental revenue, retained subscribers, ROI) are ``not_measured``.

Alert rules, with their defaults (``Thresholds``; per unit in ``monitor_setting``)
--------------------------------------------------------------------------------
(a) **Execution below plan** — once a checkpoint is due, its actual below 90 %
    of its target raises an alert for the case, and one for every city below
    90 % of its share. 90 %: a checkpoint missed by a few percent is noise of
    timing (a batch that went out after midnight); a tenth short is a unit that
    will not make the case's total without someone stepping in.
(b) **Delivery failure spike** — over the last 60 minutes on one channel, at
    least 50 settled messages, at least 10 % of them failed, and a one-sided
    binomial z-score of at least 3 against the case's own failure rate on that
    channel before the window (2 % while that history has fewer than 50
    messages; never below 0.5 %, so a clean history does not make one failure a
    spike). The minimum count keeps a handful of bad numbers from paging anyone;
    z ≥ 3 (about 1 in 700 by chance) keeps a scan every few minutes from crying
    wolf over a day.
(c) **Complaint spike after contact** — subscribers contacted in the last 7
    days who lodged a complaint within 7 days of their contact, against the
    case's control group over the same days (or, without a control group of at
    least 100, the same subscribers in the 7 days before their contact): at
    least 5 complainers, at least twice the comparison rate, and a pooled
    two-proportion z-score of at least 2.33 (one-sided 1 %).
(d) **City not acknowledged** — ``cases.issuing``'s ``ack_overdue`` alert; the
    monitor scans for it and lists it with its own.

Each alert is unique per case, rule and ``dedupe_key`` (scope and checkpoint or
day), so a scan may run as often as wanted and raises nothing twice. Alerts go
``open`` → ``acknowledged`` → ``resolved``; resolving needs a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from telmark.cases.domain import AlertKind, AlertStatus, Metric
from telmark.errors import InvalidInput, InvalidTransition
from telmark.translation import N_

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")
BP = 10_000
MAX_NOTE = 1000
# Counted from the outbox and tasks while a case runs; the rest are measured by evaluation.
CUMULATIVE = frozenset({Metric.CONTACTS, Metric.TAKERS})
MEASURED = CUMULATIVE | {Metric.TAKE_UP_BP}
MIN_BASELINE = 0.005  # the least failure rate a baseline is taken to have (module doc)


class CheckpointState(StrEnum):
    MET = "met"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    MISSED = "missed"
    NOT_MEASURED = "not_measured"


class Level(StrEnum):
    """The org level a case's progress is broken down by."""

    CITY = "city"
    OUTLET = "outlet"  # the outlet, grid or unit a contact or task is placed with
    STAFF = "staff"  # the account manager


class EmailState(StrEnum):
    PENDING = "pending"  # not sent yet (or no recipients yet): the next scan sends it
    SENT = "sent"
    FAILED = "failed"  # the relay refused or was down: the next scan retries
    SKIPPED = "skipped"  # raised before the monitor mailed alerts


class AlertAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


MONITOR_KINDS = frozenset(
    {AlertKind.EXECUTION_BEHIND, AlertKind.FAILURE_SPIKE, AlertKind.COMPLAINT_SPIKE}
)

# The life of an alert: action → (statuses it may be taken from, status it leads to).
ALERT_TRANSITIONS: Mapping[AlertAction, tuple[frozenset[AlertStatus], AlertStatus]] = {
    AlertAction.ACKNOWLEDGE: (frozenset({AlertStatus.OPEN}), AlertStatus.ACKNOWLEDGED),
    AlertAction.RESOLVE: (
        frozenset({AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED}),
        AlertStatus.RESOLVED,
    ),
}

STATE_LABELS: Mapping[CheckpointState, str] = {
    CheckpointState.MET: N_("Met"),
    CheckpointState.ON_TRACK: N_("On track"),
    CheckpointState.BEHIND: N_("Behind"),
    CheckpointState.MISSED: N_("Missed"),
    CheckpointState.NOT_MEASURED: N_("Measured at evaluation"),
}
KIND_LABELS: Mapping[AlertKind, str] = {
    AlertKind.ACK_OVERDUE: N_("Not acknowledged"),
    AlertKind.EXECUTION_BEHIND: N_("Execution below plan"),
    AlertKind.FAILURE_SPIKE: N_("Delivery failure spike"),
    AlertKind.COMPLAINT_SPIKE: N_("Complaint spike after contact"),
    AlertKind.EVALUATION_OVERDUE: N_("Evaluation overdue"),
}
LEVEL_LABELS: Mapping[Level, str] = {
    Level.CITY: N_("Per city"),
    Level.OUTLET: N_("Per outlet / unit"),
    Level.STAFF: N_("Per account manager"),
}
EMAIL_LABELS: Mapping[EmailState, str] = {
    EmailState.PENDING: N_("E-mail pending"),
    EmailState.SENT: N_("E-mailed"),
    EmailState.FAILED: N_("E-mail failed, retried next scan"),
    EmailState.SKIPPED: N_("Not e-mailed"),
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The alert rules' thresholds (module doc says why each default)."""

    execution_ratio_bp: int = 9_000
    failure_window_minutes: int = 60
    failure_min_count: int = 50
    failure_rate_bp: int = 1_000
    failure_z_milli: int = 3_000
    failure_baseline_bp: int = 200
    complaint_days: int = 7
    complaint_min_count: int = 5
    complaint_min_comparison: int = 100
    complaint_ratio_bp: int = 20_000
    complaint_z_milli: int = 2_330

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Thresholds:
        """Thresholds from stored values over the defaults; InvalidInput naming a bad field."""
        known = {f.name for f in fields(cls)}
        given = dict(values or {})
        unknown = sorted(set(given) - known)
        if unknown:
            raise InvalidInput(
                f"thresholds.{unknown[0]}: not a threshold",
                details=[{"field": f"thresholds.{name}"} for name in unknown],
            )
        result = cls(**{k: int(v) for k, v in given.items()})
        result.check()
        return result

    def check(self) -> None:
        limits = {
            "execution_ratio_bp": (1, BP),
            "failure_window_minutes": (5, 24 * 60),
            "failure_min_count": (1, 1_000_000),
            "failure_rate_bp": (1, BP),
            "failure_z_milli": (0, 10_000),
            "failure_baseline_bp": (1, BP - 1),
            "complaint_days": (1, 90),
            "complaint_min_count": (1, 1_000_000),
            "complaint_min_comparison": (1, 10_000_000),
            "complaint_ratio_bp": (BP, 100 * BP),
            "complaint_z_milli": (0, 10_000),
        }
        problems: list[dict[str, object]] = [
            {"field": f"thresholds.{name}", "reason": f"must be {lo}–{hi}"}
            for name, (lo, hi) in limits.items()
            if not lo <= getattr(self, name) <= hi
        ]
        if problems:
            raise InvalidInput(f"{problems[0]['field']}: {problems[0]['reason']}", details=problems)

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


# -- time ------------------------------------------------------------------------------------


def day_end(day: date) -> datetime:
    """The end of ``day`` in the province (a checkpoint is due then), aware UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=PROVINCE_TZ).astimezone(UTC)


def local_day(moment: datetime) -> date:
    return moment.astimezone(PROVINCE_TZ).date()


# -- progress against plan -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    on: date
    metric: Metric
    target: int


def checkpoints_of(raw: Sequence[Mapping[str, Any]]) -> list[Checkpoint]:
    """A case's stored checkpoints, in date order."""
    points = [
        Checkpoint(date.fromisoformat(str(c["on"])), Metric(c["metric"]), int(c["target"]))
        for c in raw
    ]
    return sorted(points, key=lambda c: (c.on, c.metric.value))


def planned_at(
    checkpoints: Sequence[Checkpoint], metric: Metric, *, starts_on: date, day: date
) -> int | None:
    """The plan for ``metric`` at the end of ``day`` (module doc: linear between checkpoints).

    None when the case has no checkpoint of the metric (or, for a rate, none yet).
    """
    points = sorted((c.on, c.target) for c in checkpoints if c.metric is metric)
    if not points:
        return None
    if metric not in CUMULATIVE:
        for on, target in points:
            if day <= on:
                return target
        return points[-1][1]
    previous_day, previous = starts_on - timedelta(days=1), 0  # nothing done before the start
    for on, target in points:
        if day >= on:
            previous_day, previous = on, target
            continue
        if day <= previous_day:
            return previous
        span = (on - previous_day).days
        done = (day - previous_day).days
        # Rounded half up, in integers: plans are counts.
        return previous + ((target - previous) * done * 2 + span) // (2 * span)
    return previous


def below(actual: int, target: int, ratio_bp: int) -> bool:
    """``actual`` under ``ratio_bp`` of ``target`` (exactly at the tolerated share is not)."""
    return actual * BP < target * ratio_bp


def checkpoint_state(
    *, metric: Metric, target: int, actual: int | None, plan_now: int | None, due: bool,
    ratio_bp: int,
) -> CheckpointState:  # fmt: skip
    """Where a checkpoint stands (module doc)."""
    if metric not in MEASURED or actual is None:
        return CheckpointState.NOT_MEASURED
    if actual >= target:
        return CheckpointState.MET
    if due:
        return CheckpointState.MISSED if below(actual, target, ratio_bp) else CheckpointState.BEHIND
    if plan_now is not None and below(actual, plan_now, ratio_bp):
        return CheckpointState.BEHIND
    return CheckpointState.ON_TRACK


def share_of(target: int, part: int, whole: int) -> int:
    """``target`` × ``part`` / ``whole``, rounded half up (0 when there is no whole)."""
    if whole <= 0 or part <= 0:
        return 0
    return (2 * target * part + whole) // (2 * whole)


def rate_bp(part: int, whole: int) -> int | None:
    """``part`` of ``whole`` in basis points, rounded half up (None when nothing counts)."""
    if whole <= 0:
        return None
    return (2 * BP * part + whole) // (2 * whole)


def metric_value(metric: Metric, *, contacts: int, takers: int) -> int | None:
    """The actual of a monitored metric from the counts (None when not monitored)."""
    if metric is Metric.CONTACTS:
        return contacts
    if metric is Metric.TAKERS:
        return takers
    if metric is Metric.TAKE_UP_BP:
        return rate_bp(takers, contacts) or 0
    return None


# -- spikes --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureVerdict:
    spike: bool
    rate_bp: int | None
    baseline_bp: int
    z: float


def failure_spike(
    *, failed: int, settled: int, base_failed: int, base_settled: int, thresholds: Thresholds
) -> FailureVerdict:
    """Rule (b): a window's failures against the channel's own history (module doc)."""
    t = thresholds
    if base_settled >= t.failure_min_count:
        p0 = base_failed / base_settled
    else:
        p0 = t.failure_baseline_bp / BP
    p0 = min(max(p0, MIN_BASELINE), 1 - MIN_BASELINE)
    if settled <= 0:
        return FailureVerdict(False, None, round(p0 * BP), 0.0)
    z = (failed - settled * p0) / math.sqrt(settled * p0 * (1 - p0))
    spike = (
        settled >= t.failure_min_count
        and failed * BP >= t.failure_rate_bp * settled
        and z * 1000 >= t.failure_z_milli
    )
    return FailureVerdict(spike, rate_bp(failed, settled), round(p0 * BP), z)


@dataclass(frozen=True, slots=True)
class ComplaintVerdict:
    spike: bool
    rate_bp: int | None
    comparison_bp: int | None
    z: float


def complaint_spike(
    *, complained: int, contacted: int, compared_complained: int, compared: int,
    thresholds: Thresholds,
) -> ComplaintVerdict:  # fmt: skip
    """Rule (c): complainers after contact against the comparison group (module doc)."""
    t = thresholds
    rate, comparison = rate_bp(complained, contacted), rate_bp(compared_complained, compared)
    if contacted <= 0 or compared <= 0:
        return ComplaintVerdict(False, rate, comparison, 0.0)
    pooled = (complained + compared_complained) / (contacted + compared)
    if pooled <= 0 or pooled >= 1:
        return ComplaintVerdict(False, rate, comparison, 0.0)
    p_t, p_c = complained / contacted, compared_complained / compared
    z = (p_t - p_c) / math.sqrt(pooled * (1 - pooled) * (1 / contacted + 1 / compared))
    spike = (
        complained >= t.complaint_min_count
        and compared >= t.complaint_min_comparison
        # p_t ≥ ratio × p_c, cross-multiplied to stay in integers
        and complained * compared * BP >= t.complaint_ratio_bp * compared_complained * contacted
        and z * 1000 >= t.complaint_z_milli
    )
    return ComplaintVerdict(spike, rate, comparison, z)


# -- alert keys and life ----------------------------------------------------------------------


def behind_key(checkpoint: Checkpoint, org_code: str | None) -> str:
    """One alert per checkpoint (and metric) for the case, and one per lagging city."""
    where = "case" if org_code is None else f"org:{org_code}"
    return f"cp:{checkpoint.on.isoformat()}:{checkpoint.metric.value}:{where}"


def day_key(scope: str, day: date) -> str:
    """One spike alert per scope (channel, or the case) and province day."""
    return f"{scope}:{day.isoformat()}"


def alert_transition(alert_id: int, status: AlertStatus, action: AlertAction) -> AlertStatus:
    """The status ``action`` leads to; InvalidTransition naming both otherwise."""
    froms, to = ALERT_TRANSITIONS[action]
    if status not in froms:
        raise InvalidTransition(
            f"alert {alert_id} is {status}; it cannot be {action}d",
            details=[{"field": "status", "from": str(status), "to": str(to)}],
        )
    return to


def clean_note(note: str | None, *, required: bool) -> str:
    """The note trimmed; InvalidInput naming the field when missing or too long."""
    text = (note or "").strip()
    if required and not text:
        raise InvalidInput(
            "note: say what was done (a note is required)", details=[{"field": "note"}]
        )
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            f"note: at most {MAX_NOTE} characters, got {len(text)}", details=[{"field": "note"}]
        )
    return text


def clean_recipients(addresses: Sequence[str]) -> list[str]:
    """E-mail addresses, trimmed and deduplicated; InvalidInput naming a malformed one."""
    found: list[str] = []
    for i, raw in enumerate(addresses):
        address = raw.strip()
        local, at, domain = address.partition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in address):
            raise InvalidInput(
                f"recipients[{i}]: {address!r} is not an e-mail address",
                details=[{"field": f"recipients[{i}]"}],
            )
        if address not in found:
            found.append(address)
    return found
