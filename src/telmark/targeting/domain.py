"""Pure targeting rules: the contact policy, arbitration score, holdout hash and balance.

**Contact policy.** One province-wide policy, versioned (an edit appends the
next version; runs record the version they applied):

* ``global_cap`` marketing contacts per subscriber per ``period`` (a calendar
  day, an ISO week Monday–Sunday, or a calendar month, in province local time);
* ``channel_caps``: at most so many contacts per channel per period;
* ``min_gap_days``: two contacts of one subscriber lie at least this many days
  apart (0: no gap rule). Every contact of one run is planned for the run's day,
  so with a gap of one day or more a run gives a subscriber at most one contact;
* quiet hours (``quiet_start``–``quiet_end``, local time, may wrap midnight):
  no message is *sent* then. They constrain send time, not selection: a run
  records for each list the send window the dispatcher must keep. Frontline
  tasks are worked by staff in opening hours and carry no window;
* ``global_holdout_bp``: a share of the base, drawn by ``holdout_bucket`` with
  the policy's own ``global_holdout_key``, excluded from all marketing so the
  effect of marketing as a whole can be measured.

A subscriber's **allowance** in a run is how many contacts the policy still
allows on the run's day: 0 if another contact lies within the gap, else the
cap minus the contacts already counted in the period (and at most 1 when a gap
applies). Contacts counted are those in ``contact_history`` plus those planned
by earlier complete runs and not yet found in the history (see
``targeting.pipeline``), so caps hold across any sequence of runs.

**Arbitration.** Candidates of one subscriber are ordered by

    score = priority × (business_weight_bp + 1) × (propensity‰ + 1) × value

descending, ties broken by ``case_id`` ascending (the older case first), which
is a total order: the same inputs always give the same winners. ``priority``
is the case's 1–9; ``propensity‰`` is the subscriber's response propensity
for the case in per mille (``UNSCORED_PROPENSITY`` when unscored); ``value``
is the subscriber's CLV in whole yuan clipped to 1…``MAX_VALUE_YUAN`` (1
without a value). Every factor is an integer at least 1, so the score is an
exact integer (< 2^63) on every backend and no factor can zero out the others.
Value is the same for all of one subscriber's candidates, so it never changes
who wins; it is kept in the score because the dispatcher sends the lists in
score order when a channel's daily capacity runs short.

First the channel caps: on each channel the top ``channel remaining``
candidates keep their place; then the subscriber's top ``allowance`` win.
A loser records the case that beat it (``arbitration_lost``).

**Holdout.** ``holdout_bucket(key, case_id, subscriber_id)`` is splitmix64's
finaliser applied twice — to (SHA-256 of the key)'s first 8 bytes XOR the
case id, then XOR the subscriber id — modulo 10 000. It is computed in numpy
on the ids a run selected, so it is the same on DuckDB and Spark, on every
machine and Python version, and different cases (or keys) give independent
draws. A subscriber is in the control group of a case when its bucket is below
the case's ``holdout_bp``.

**Balance.** For each case, treatment and control means of key covariates with
the standardised mean difference (pooled standard deviation); ``|SMD| > 0.1``
is flagged.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from telmark.consent.domain import CONTACT_CHANNELS, Channel
from telmark.errors import InvalidInput
from telmark.translation import N_

BP = 10_000
UNSCORED_PROPENSITY = 500  # per mille: an unscored line counts as an even chance
MAX_VALUE_YUAN = 1_000_000
SMD_LIMIT = 0.1
MAX_CAP = 100
MAX_GAP_DAYS = 90
MAX_CHANNELS = 5
UNLIMITED = 1 << 30  # a channel without a cap: more room than any period can use


class TargetCase(Protocol):
    """What a run needs of a marketing case (``cases.domain`` provides these attributes)."""

    @property
    def case_id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def org_path(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def business_weight_bp(self) -> int: ...
    @property
    def snapshot_id(self) -> int: ...
    @property
    def offer_codes(self) -> tuple[str, ...]: ...
    @property
    def channels(self) -> tuple[str, ...]: ...
    @property
    def holdout_bp(self) -> int: ...
    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date: ...
    @property
    def local_rules(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def local_channels(self) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]: ...


@dataclass(frozen=True, slots=True)
class CaseSpec:
    """A case as a run records it (also what the CLI builds from its options)."""

    case_id: int
    code: str
    org_path: str
    priority: int
    business_weight_bp: int
    snapshot_id: int
    offer_codes: tuple[str, ...]
    channels: tuple[str, ...]
    holdout_bp: int
    starts_on: date
    ends_on: date
    # (org code, segment rule as canonical JSON): a unit's local narrowing of the case
    # (``cases.issuing.localise``); members under that unit must also meet the rule.
    local_rules: tuple[tuple[str, str], ...] = ()
    # (org code, ((channel, share bp), ...)): a unit's local channel mix; its lines are given
    # a preferred channel by those shares (``preferred_channel``), tried before the case's order.
    local_channels: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()

    @property
    def org_code(self) -> str:
        """The owning unit's code: the last of its path."""
        return self.org_path.strip("/").rsplit("/", 1)[-1]

    @classmethod
    def of(cls, case: TargetCase) -> CaseSpec:
        return cls(
            case_id=int(case.case_id),
            code=str(case.code),
            org_path=str(case.org_path),
            priority=int(case.priority),
            business_weight_bp=int(case.business_weight_bp),
            snapshot_id=int(case.snapshot_id),
            offer_codes=tuple(str(c) for c in case.offer_codes),
            channels=tuple(str(c) for c in case.channels),
            holdout_bp=int(case.holdout_bp),
            starts_on=case.starts_on,
            ends_on=case.ends_on,
            local_rules=tuple((str(o), str(r)) for o, r in case.local_rules),
            local_channels=tuple(
                (str(o), tuple((str(c), int(b)) for c, b in mix)) for o, mix in case.local_channels
            ),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "code": self.code,
            "org_path": self.org_path,
            "priority": self.priority,
            "business_weight_bp": self.business_weight_bp,
            "snapshot_id": self.snapshot_id,
            "offer_codes": list(self.offer_codes),
            "channels": list(self.channels),
            "holdout_bp": self.holdout_bp,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "local_rules": [list(pair) for pair in self.local_rules],
            "local_channels": [[o, [list(s) for s in mix]] for o, mix in self.local_channels],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseSpec:
        return cls(
            case_id=int(data["case_id"]),
            code=str(data["code"]),
            org_path=str(data["org_path"]),
            priority=int(data["priority"]),
            business_weight_bp=int(data["business_weight_bp"]),
            snapshot_id=int(data["snapshot_id"]),
            offer_codes=tuple(data["offer_codes"]),
            channels=tuple(data["channels"]),
            holdout_bp=int(data["holdout_bp"]),
            starts_on=date.fromisoformat(data["starts_on"]),
            ends_on=date.fromisoformat(data["ends_on"]),
            local_rules=tuple((str(o), str(r)) for o, r in data.get("local_rules", ())),
            local_channels=tuple(
                (str(o), tuple((str(c), int(b)) for c, b in mix))
                for o, mix in data.get("local_channels", ())
            ),
        )


def check_cases(cases: Sequence[CaseSpec], on: date) -> None:
    """InvalidInput naming every problem of the cases given to one run."""
    problems: list[dict[str, object]] = []
    seen_ids: set[int] = set()
    seen_codes: set[str] = set()
    allowed = {c.value for c in CONTACT_CHANNELS}
    if not cases:
        raise InvalidInput("give at least one case to target", details=[{"field": "cases"}])
    for case in cases:
        where: dict[str, object] = {"case_id": case.case_id}
        if case.case_id in seen_ids or case.code in seen_codes:
            problems.append({**where, "reason": "the same case is given twice"})
        seen_ids.add(case.case_id)
        seen_codes.add(case.code)
        if case.case_id < 1:
            problems.append({**where, "reason": "case_id must be positive"})
        if not 1 <= case.priority <= 9:
            problems.append({**where, "reason": "priority must be 1–9"})
        if not 0 <= case.business_weight_bp <= BP:
            problems.append({**where, "reason": "business_weight_bp must be 0–10000"})
        if not 0 <= case.holdout_bp < BP:
            problems.append({**where, "reason": "holdout_bp must be 0–9999"})
        if not case.channels or len(case.channels) > MAX_CHANNELS:
            problems.append({**where, "reason": f"give 1–{MAX_CHANNELS} channels"})
        bad = [c for c in case.channels if c not in allowed]
        if bad or len(set(case.channels)) != len(case.channels):
            problems.append({**where, "reason": f"channels must be distinct, from {allowed}"})
        if not case.starts_on <= on <= case.ends_on:
            problems.append({**where, "reason": f"{on} lies outside the case's dates"})
    if problems:
        raise InvalidInput(
            "these cases cannot be targeted: "
            + "; ".join(f"case {p['case_id']}: {p['reason']}" for p in problems),
            details=problems,
        )


# -- contact policy ----------------------------------------------------------------------------


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


class Group(StrEnum):
    """A row of a run's list file: contacted, held back as control, or beaten in arbitration."""

    TREATMENT = "treatment"
    CONTROL = "control"
    LOST = "lost"


RUN_STATUS_LABELS: dict[RunStatus, str] = {
    RunStatus.RUNNING: N_("running"),
    RunStatus.COMPLETE: N_("complete"),
    RunStatus.FAILED: N_("failed"),
}
GROUP_LABELS: dict[Group, str] = {
    Group.TREATMENT: N_("treatment"),
    Group.CONTROL: N_("control"),
    Group.LOST: N_("lost"),
}


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    version: int  # 0: the default, never saved
    period: Period = Period.WEEK
    global_cap: int = 2
    channel_caps: Mapping[str, int] = field(default_factory=dict)
    min_gap_days: int = 2
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    global_holdout_bp: int = 0
    global_holdout_key: str = "global"


DEFAULT_POLICY = ContactPolicy(version=0, channel_caps={"sms": 2, "outbound_call": 1})


def check_policy(policy: ContactPolicy) -> ContactPolicy:
    """The policy if every field is in range, else InvalidInput naming the fields."""
    problems: list[dict[str, object]] = []
    if not 1 <= policy.global_cap <= MAX_CAP:
        problems.append({"field": "global_cap", "reason": f"1–{MAX_CAP}"})
    allowed = {c.value for c in CONTACT_CHANNELS}
    for channel, cap in policy.channel_caps.items():
        if channel not in allowed:
            problems.append({"field": "channel_caps", "reason": f"unknown channel {channel}"})
        elif not 0 <= cap <= MAX_CAP:
            problems.append({"field": "channel_caps", "reason": f"{channel}: 0–{MAX_CAP}"})
    if not 0 <= policy.min_gap_days <= MAX_GAP_DAYS:
        problems.append({"field": "min_gap_days", "reason": f"0–{MAX_GAP_DAYS}"})
    if not 0 <= policy.global_holdout_bp < BP:
        problems.append({"field": "global_holdout_bp", "reason": "0–9999"})
    if not policy.global_holdout_key.strip() or len(policy.global_holdout_key) > 60:
        problems.append({"field": "global_holdout_key", "reason": "1–60 characters"})
    if problems:
        raise InvalidInput(
            "contact policy: " + "; ".join(f"{p['field']} {p['reason']}" for p in problems),
            details=problems,
        )
    return policy


def period_bounds(on: date, period: Period) -> tuple[date, date]:
    """First and last day of the policy period that contains ``on``."""
    if period is Period.DAY:
        return on, on
    if period is Period.WEEK:
        start = on - timedelta(days=on.weekday())
        return start, start + timedelta(days=6)
    start = on.replace(day=1)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following - timedelta(days=1)


def gap_bounds(on: date, min_gap_days: int) -> tuple[date, date] | None:
    """Days on which another contact would be closer than the gap (None: no gap rule)."""
    if min_gap_days <= 0:
        return None
    spread = timedelta(days=min_gap_days - 1)
    return on - spread, on + spread


def lookback(on: date, policy: ContactPolicy) -> tuple[date, date]:
    """Every day whose contacts a run on ``on`` must know of."""
    start, end = period_bounds(on, policy.period)
    gap = gap_bounds(on, policy.min_gap_days)
    if gap is None:
        return start, end
    return min(start, gap[0]), max(end, gap[1])


def allowance(policy: ContactPolicy, *, in_period: int, within_gap: bool) -> int:
    """How many contacts a subscriber may still receive on the run's day."""
    if within_gap:
        return 0
    room = max(policy.global_cap - in_period, 0)
    return min(room, 1) if policy.min_gap_days > 0 else room


def channel_room(policy: ContactPolicy, channel: str, in_period: int) -> int:
    """Contacts still allowed on ``channel`` in the period (``UNLIMITED`` without a cap)."""
    cap = policy.channel_caps.get(channel)
    return UNLIMITED if cap is None else max(cap - in_period, 0)


def send_window(policy: ContactPolicy, channel: str) -> tuple[time, time] | None:
    """Local (from, until) a message on ``channel`` may be sent; None: no window applies."""
    if channel == Channel.FRONTLINE.value or policy.quiet_start == policy.quiet_end:
        return None
    return policy.quiet_end, policy.quiet_start


def minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def from_minutes(value: int) -> time:
    return time(value // 60, value % 60)


# -- funnel ------------------------------------------------------------------------------------


class Step(StrEnum):
    SNAPSHOT = "snapshot"
    ELIGIBLE = "eligible"
    CONSENT = "consent"
    POLICY = "policy"
    ARBITRATION = "arbitration"
    HOLDOUT = "holdout"
    LISTS = "lists"


class Reason(StrEnum):
    """Why a (case, subscriber) pair left the funnel; the step it left at comes first."""

    OUTSIDE_AREA = "outside_area"
    NOT_ELIGIBLE = "not_eligible"
    CONSENT = "consent"
    GLOBAL_HOLDOUT = "global_holdout"
    MIN_GAP = "min_gap"
    CAP = "cap"
    CHANNEL_CAP = "channel_cap"
    ARBITRATION_LOST = "arbitration_lost"
    CONTROL = "control"


STEP_OF: dict[Reason, Step] = {
    Reason.OUTSIDE_AREA: Step.ELIGIBLE,
    Reason.NOT_ELIGIBLE: Step.ELIGIBLE,
    Reason.CONSENT: Step.CONSENT,
    Reason.GLOBAL_HOLDOUT: Step.POLICY,
    Reason.MIN_GAP: Step.POLICY,
    Reason.CAP: Step.POLICY,
    Reason.CHANNEL_CAP: Step.POLICY,
    Reason.ARBITRATION_LOST: Step.ARBITRATION,
    Reason.CONTROL: Step.HOLDOUT,
}
STEP_LABELS: dict[Step, str] = {
    Step.SNAPSHOT: N_("Segment snapshot"),
    Step.ELIGIBLE: N_("Eligible for an offer"),
    Step.CONSENT: N_("Consent and DND"),
    Step.POLICY: N_("Contact policy"),
    Step.ARBITRATION: N_("Arbitration"),
    Step.HOLDOUT: N_("After holdout (treatment)"),
    Step.LISTS: N_("Contact lists"),
}
REASON_LABELS: dict[Reason, str] = {
    Reason.OUTSIDE_AREA: N_(
        "outside the case's organisation, or not meeting its unit's local narrowing"
    ),
    Reason.NOT_ELIGIBLE: N_("not eligible for any of the case's offers"),
    Reason.CONSENT: N_("opted out, DND or blacklisted on every channel of the case"),
    Reason.GLOBAL_HOLDOUT: N_("in the global holdout"),
    Reason.MIN_GAP: N_("contacted too recently (minimum gap)"),
    Reason.CAP: N_("contact cap of the period reached"),
    Reason.CHANNEL_CAP: N_("channel cap reached on every allowed channel"),
    Reason.ARBITRATION_LOST: N_("lost arbitration to another case"),
    Reason.CONTROL: N_("drawn into the case's control group"),
}


def funnel(snapshot: int, excluded: Mapping[Reason, int]) -> list[tuple[Step, int]]:
    """Counts remaining after each step, from the snapshot size and exclusions by reason."""
    left = snapshot
    steps = [(Step.SNAPSHOT, left)]
    for step in (Step.ELIGIBLE, Step.CONSENT, Step.POLICY, Step.ARBITRATION, Step.HOLDOUT):
        left -= sum(n for reason, n in excluded.items() if STEP_OF[reason] is step)
        steps.append((step, left))
    steps.append((Step.LISTS, left))
    return steps


# -- arbitration -------------------------------------------------------------------------------


def propensity_permille(value: float | None) -> int:
    """A probability as whole per mille in 0…1000; unscored: ``UNSCORED_PROPENSITY``."""
    if value is None or math.isnan(value):
        return UNSCORED_PROPENSITY
    return min(max(int(math.floor(value * 1000 + 0.5)), 0), 1000)


def value_factor(clv_fen: int | None) -> int:
    if clv_fen is None:
        return 1
    return min(max(clv_fen // 100, 1), MAX_VALUE_YUAN)


def score(priority: int, business_weight_bp: int, propensity: int, value: int) -> int:
    """The arbitration score (see the module docstring); an exact integer."""
    return priority * (business_weight_bp + 1) * (propensity + 1) * value


@dataclass(frozen=True, slots=True)
class Candidate:
    case_id: int
    channel: str
    score: int


@dataclass(frozen=True, slots=True)
class Verdict:
    case_id: int
    won: bool
    rank: int  # 1-based place among the subscriber's candidates that kept a channel slot
    beaten_by: int | None


def order_key(candidate: Candidate) -> tuple[int, int]:
    return (-candidate.score, candidate.case_id)


def arbitrate(
    candidates: Sequence[Candidate], *, allowance: int, channel_room: Mapping[str, int]
) -> list[Verdict]:
    """One subscriber's arbitration (the reference for the set-wise version in the pipeline)."""
    ordered = sorted(candidates, key=order_key)
    used: dict[str, int] = {}
    kept: list[Candidate] = []
    verdicts: dict[int, Verdict] = {}
    first_on: dict[str, int] = {}
    for candidate in ordered:
        first_on.setdefault(candidate.channel, candidate.case_id)
        taken = used.get(candidate.channel, 0)
        if taken >= channel_room.get(candidate.channel, UNLIMITED):
            verdicts[candidate.case_id] = Verdict(
                candidate.case_id, False, 0, first_on[candidate.channel]
            )
            continue
        used[candidate.channel] = taken + 1
        kept.append(candidate)
    for place, candidate in enumerate(kept, start=1):
        won = place <= allowance
        verdicts[candidate.case_id] = Verdict(
            candidate.case_id, won, place, None if won else kept[0].case_id
        )
    return [verdicts[c.case_id] for c in ordered]


# -- holdout -----------------------------------------------------------------------------------

_MASK = (1 << 64) - 1
_C1, _C2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def key_seed(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _C1) & _MASK
    z = ((z ^ (z >> 27)) * _C2) & _MASK
    return z ^ (z >> 31)


def holdout_bucket(key: str, case_id: int, subscriber_id: int) -> int:
    """The subscriber's bucket (0…9999) for ``case_id`` under ``key`` (the reference form)."""
    return _mix(_mix(key_seed(key) ^ case_id) ^ subscriber_id) % BP


U64 = np.ndarray[Any, np.dtype[np.uint64]]


def _mix_array(z: U64) -> U64:
    # uint64 arithmetic wraps modulo 2^64, exactly as the masked Python form.
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_C1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_C2)
    return z ^ (z >> np.uint64(31))


def holdout_buckets(key: str, case_id: int, subscriber_ids: np.ndarray[Any, Any]) -> U64:
    """``holdout_bucket`` for many subscribers at once (numpy, same values)."""
    seed = np.uint64(_mix(key_seed(key) ^ case_id))
    ids = np.asarray(subscriber_ids, dtype=np.int64).astype(np.uint64)
    mixed: U64 = _mix_array(ids ^ seed) % np.uint64(BP)
    return mixed


def in_holdout(
    key: str, case_id: int, subscriber_ids: np.ndarray[Any, Any], share_bp: int
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which subscribers fall in the holdout of ``case_id`` (share ``share_bp`` of 10 000)."""
    found: np.ndarray[Any, np.dtype[np.bool_]] = holdout_buckets(
        key, case_id, subscriber_ids
    ) < np.uint64(share_bp)
    return found


GLOBAL_CASE = 0  # the global holdout draws with case id 0 (real case ids are positive)


# -- balance -----------------------------------------------------------------------------------

COVARIATES: dict[str, str] = {
    "arpu_fen": N_("ARPU (fen)"),
    "data_mb": N_("Data used, DOU (MB)"),
    "tenure_months": N_("Tenure (months)"),
    "churn_probability": N_("Churn probability"),
}


@dataclass(frozen=True, slots=True)
class Balance:
    covariate: str
    treatment_n: int
    control_n: int
    treatment_mean: float | None
    control_mean: float | None
    smd: float | None

    @property
    def flagged(self) -> bool:
        return self.smd is not None and abs(self.smd) > SMD_LIMIT


@dataclass(slots=True)
class Moments:
    """Count, sum and sum of squares of one covariate in one arm (added up batch by batch)."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, values: np.ndarray[Any, Any]) -> None:
        """Add the non-missing (non-NaN) values."""
        found = np.asarray(values, dtype=np.float64)
        found = found[~np.isnan(found)]
        self.n += int(found.size)
        self.total += float(found.sum())
        self.squares += float(np.square(found).sum())

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        if self.n < 2:
            return None
        return max(self.squares - self.total * self.total / self.n, 0.0) / (self.n - 1)


def balance_of(covariate: str, treatment: Moments, control: Moments) -> Balance:
    """Means of one covariate in both arms and their standardised mean difference.

    The SMD divides by the pooled standard deviation, sqrt((var_t + var_c) / 2); it is
    None when an arm has fewer than two values or neither arm has any spread.
    """
    smd = None
    t_var, c_var = treatment.variance, control.variance
    t_mean, c_mean = treatment.mean, control.mean
    if t_var is not None and c_var is not None and t_mean is not None and c_mean is not None:
        pooled = math.sqrt((t_var + c_var) / 2)
        if pooled > 0:
            smd = (t_mean - c_mean) / pooled
    return Balance(covariate, treatment.n, control.n, t_mean, c_mean, smd)


def balance(
    covariate: str, treatment: np.ndarray[Any, Any], control: np.ndarray[Any, Any]
) -> Balance:
    """``balance_of`` for two arrays of values (NaN: missing, left out)."""
    t, c = Moments(), Moments()
    t.add(treatment)
    c.add(control)
    return balance_of(covariate, t, c)
