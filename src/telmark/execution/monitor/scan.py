"""The monitor's scan: the alert rules on every running case, then the alert e-mails.

``scan`` runs rule (d) (``cases.issuing.overdue_issues``), then rules (a)–(c)
of ``domain`` on every running case, commits the alerts, and only then mails
what is not mailed yet: an alert is never lost to a relay that is down; its
e-mail stays ``failed`` with the error and the next scan sends it again. The
``Message-ID`` is derived from the alert, so a resend is recognisably the same
mail. Raising is idempotent: an alert is unique per case, kind and key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ibis.backends import BaseBackend
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from telmark.cases import issuing
from telmark.cases.domain import AlertKind, AlertStatus, CaseStatus, Metric
from telmark.cases.models import Case, CaseAlert
from telmark.config import get_settings
from telmark.db import utcnow
from telmark.errors import DomainError, Forbidden
from telmark.evaluation.cases.service import overdue_evaluations
from telmark.execution.channels.base import ChannelUnavailable, Message, SendResult
from telmark.execution.channels.base import Outcome as SendOutcome
from telmark.execution.channels.config import SmtpSettings
from telmark.execution.channels.email import SmtpChannel
from telmark.execution.domain import OutboxState
from telmark.execution.models import OutboxMessage
from telmark.execution.monitor import domain
from telmark.execution.monitor.counting import Tally, evaluate, ones
from telmark.execution.monitor.domain import (
    EmailState,
    Level,
    Thresholds,
)
from telmark.execution.monitor.schemas import (
    MailRead,
    MonitorAlertRead,
    MonitorScanRead,
)
from telmark.execution.monitor.service import alert_reads, count_open, settings_for
from telmark.execution.tasks.domain import Outcome, TaskState
from telmark.execution.tasks.models import Task
from telmark.org.domain import is_root_path
from telmark.targeting.service import list_file
from telmark.translation import N_
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import has_table
from telmark.web.i18n import gettext_for

SETTLED = (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.RESPONDED)

Mailer = Callable[[Sequence[Message]], list[SendResult]]


# -- the scan ------------------------------------------------------------------------------------


def _raise(
    uow: UnitOfWork,
    case: Case,
    kind: AlertKind,
    key: str,
    *,
    org_code: str | None,
    message: str,
    details: Mapping[str, Any],
    now: datetime,
) -> CaseAlert | None:
    """A new open alert, or None if this case already has one of this kind and key."""
    exists = uow.session.scalar(
        select(CaseAlert.id).where(
            CaseAlert.case_id == case.id, CaseAlert.kind == kind, CaseAlert.dedupe_key == key
        )
    )
    if exists is not None:
        return None
    alert = CaseAlert(
        case_id=case.id, issue_id=None, kind=kind, status=AlertStatus.OPEN, message=message[:500],
        raised_at=now, dedupe_key=key, org_code=org_code, details=dict(details),
        email_state=EmailState.PENDING.value, email_attempts=0,
    )  # fmt: skip
    try:
        # A concurrent scan may raise the same alert first; the unique key keeps one.
        with uow.session.begin_nested():
            uow.session.add(alert)
            uow.session.flush()
    except IntegrityError:
        return None
    return alert


def _execution_rule(uow: UnitOfWork, case: Case, now: datetime, t: Thresholds) -> list[CaseAlert]:
    """Rule (a): each due checkpoint below the tolerated share of its target, for the case and
    for every city below its share."""
    ev = evaluate(uow, case, now=now, level=Level.CITY, ratio_bp=t.execution_ratio_bp)
    raised: list[CaseAlert] = []
    for i, checkpoint in enumerate(ev.checkpoints):
        if not ev.due(i) or checkpoint.metric not in domain.MEASURED:
            continue
        groups: list[tuple[str | None, Tally]] = [(None, ev.total)]
        groups += [(k, u) for k, u in sorted(ev.units.items(), key=lambda kv: kv[0] or "") if k]
        for org_code, tally in groups:
            target = checkpoint.target if org_code is None else ev.scaled(checkpoint, tally.planned)
            actual = tally.actual(checkpoint.metric, i) or 0
            if target <= 0 or not domain.below(actual, target, t.execution_ratio_bp):
                continue
            where = f"city {org_code}" if org_code else f"case {case.code}"
            alert = _raise(
                uow, case, AlertKind.EXECUTION_BEHIND, domain.behind_key(checkpoint, org_code),
                org_code=org_code,
                message=(f"{where}: {checkpoint.metric} by {checkpoint.on} was {actual}, "
                         f"below {t.execution_ratio_bp / 100:g}% of the target {target}"),
                details={"metric": checkpoint.metric.value, "on": checkpoint.on.isoformat(),
                         "actual": actual, "target": target, "ratio_bp": t.execution_ratio_bp},
                now=now,
            )  # fmt: skip
            if alert is not None:
                raised.append(alert)
    return raised


def _failure_rule(uow: UnitOfWork, case: Case, now: datetime, t: Thresholds) -> list[CaseAlert]:
    """Rule (b): per channel, the last window's failures against the channel's history."""
    o = OutboxMessage
    settled_at = func.coalesce(o.sent_at, o.updated_at)
    start = now - timedelta(minutes=t.failure_window_minutes)
    inside = and_(settled_at >= start, settled_at <= now)
    failed = o.state == OutboxState.FAILED
    stmt = (
        select(
            o.channel, ones(and_(inside, failed)), ones(inside),
            ones(and_(settled_at < start, failed)), ones(settled_at < start),
        )
        .where(o.case_id == case.id, o.state.in_(SETTLED))
        .group_by(o.channel)
        .order_by(o.channel)
    )  # fmt: skip
    raised: list[CaseAlert] = []
    for channel, n_failed, n_settled, b_failed, b_settled in uow.session.execute(stmt):
        verdict = domain.failure_spike(
            failed=int(n_failed or 0), settled=int(n_settled or 0),
            base_failed=int(b_failed or 0), base_settled=int(b_settled or 0), thresholds=t,
        )  # fmt: skip
        if not verdict.spike:
            continue
        alert = _raise(
            uow, case, AlertKind.FAILURE_SPIKE, domain.day_key(channel, domain.local_day(now)),
            org_code=None,
            message=(f"{channel}: {n_failed} of {n_settled} messages failed in the last "
                     f"{t.failure_window_minutes} minutes ({(verdict.rate_bp or 0) / 100:g}%, "
                     f"baseline {verdict.baseline_bp / 100:g}%, z {verdict.z:.1f})"),
            details={"channel": channel, "failed": int(n_failed), "settled": int(n_settled),
                     "rate_bp": verdict.rate_bp, "baseline_bp": verdict.baseline_bp,
                     "z": round(verdict.z, 2), "minutes": t.failure_window_minutes},
            now=now,
        )  # fmt: skip
        if alert is not None:
            raised.append(alert)
    return raised


def _naive(moment: datetime) -> datetime:
    """UTC without a zone: the warehouse's timestamps are naive UTC (warehouse.contract)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _contacted(
    uow: UnitOfWork, case_id: int, since: datetime
) -> tuple[dict[int, datetime], set[int]]:
    """Subscribers contacted since ``since`` (their first contact) and the runs they came from."""
    first: dict[int, datetime] = {}
    runs: set[int] = set()
    o, t = OutboxMessage, Task
    rows: list[Any] = list(
        uow.session.execute(
            select(o.subscriber_id, func.min(o.sent_at), func.min(o.run_id))
            .where(o.case_id == case_id, o.sent_at >= since)
            .group_by(o.subscriber_id)
        ).all()
    )
    rows += uow.session.execute(
        select(t.subscriber_id, func.min(t.done_at), func.min(t.run_id))
        .where(t.case_id == case_id, t.state == TaskState.DONE,
               t.outcome != Outcome.UNREACHABLE, t.done_at >= since)
        .group_by(t.subscriber_id)
    ).all()  # fmt: skip
    for subscriber, at, run in rows:
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        if subscriber not in first or moment < first[subscriber]:
            first[int(subscriber)] = moment
        if run is not None:
            runs.add(int(run))
    return first, runs


def _controls(
    uow: UnitOfWork, case_id: int, runs: Iterable[int], since: date, directory: Path | None
) -> dict[int, datetime]:
    """The case's control-group subscribers of ``runs`` listed since ``since`` (their day's
    start in the province: the moment they would have been contacted)."""
    found: dict[int, datetime] = {}
    for run_id in sorted(runs):
        path = list_file(uow=uow, run_id=run_id, directory=directory)
        table = pq.read_table(path, columns=["case_id", "subscriber_id", "group", "planned_on"])
        keep = pc.and_(
            pc.equal(table.column("case_id"), case_id), pc.equal(table.column("group"), "control")
        )
        for row in table.filter(keep).to_pylist():
            if row["planned_on"] >= since:
                start = domain.day_end(row["planned_on"] - timedelta(days=1))
                found.setdefault(int(row["subscriber_id"]), start)
    return found


def complaint_counts(
    con: BaseBackend, windows: Sequence[tuple[int, datetime, datetime, str]]
) -> dict[str, int]:
    """Distinct subscribers with a complaint inside their own [from, to) window, per arm."""
    if not windows:
        return {}
    frame = ibis.memtable(
        {
            "w_subscriber": [w[0] for w in windows],
            "w_from": [_naive(w[1]) for w in windows],
            "w_to": [_naive(w[2]) for w in windows],
            "w_arm": [w[3] for w in windows],
        }
    )
    complaints = con.table("complaints")
    joined = frame.inner_join(complaints, frame.w_subscriber == complaints.subscriber_id)
    inside = joined.filter((joined.created_at >= joined.w_from) & (joined.created_at < joined.w_to))
    counts = inside.group_by("w_arm").aggregate(n=inside.w_subscriber.nunique())
    return {str(r["w_arm"]): int(r["n"]) for r in counts.to_pyarrow().to_pylist()}


def _complaint_rule(
    uow: UnitOfWork,
    case: Case,
    now: datetime,
    t: Thresholds,
    con: BaseBackend,
    directory: Path | None,
) -> list[CaseAlert]:
    """Rule (c): complainers among the recently contacted against a comparison group."""
    span = timedelta(days=t.complaint_days)
    treated, runs = _contacted(uow, case.id, now - span)
    if not treated:
        return []
    controls = _controls(uow, case.id, runs, domain.local_day(now - span), directory)
    windows = [(s, at, min(at + span, now), "treated") for s, at in treated.items()]
    if len(controls) >= t.complaint_min_comparison:
        comparison = "control"
        windows += [(s, at, min(at + span, now), "compared") for s, at in controls.items()]
        compared = len(controls)
    else:
        comparison = "before"  # the same subscribers before their contact
        windows += [(s, at - span, at, "compared") for s, at in treated.items()]
        compared = len(treated)
    counts = complaint_counts(con, windows)
    verdict = domain.complaint_spike(
        complained=counts.get("treated", 0), contacted=len(treated),
        compared_complained=counts.get("compared", 0), compared=compared, thresholds=t,
    )  # fmt: skip
    if not verdict.spike:
        return []
    alert = _raise(
        uow, case, AlertKind.COMPLAINT_SPIKE, domain.day_key("case", domain.local_day(now)),
        org_code=None,
        message=(f"{counts.get('treated', 0)} of {len(treated)} contacted subscribers complained "
                 f"within {t.complaint_days} days of contact ({(verdict.rate_bp or 0) / 100:g}% "
                 f"against {(verdict.comparison_bp or 0) / 100:g}% {comparison}, "
                 f"z {verdict.z:.1f})"),
        details={"complained": counts.get("treated", 0), "contacted": len(treated),
                 "compared_complained": counts.get("compared", 0), "compared": compared,
                 "comparison": comparison, "rate_bp": verdict.rate_bp,
                 "comparison_bp": verdict.comparison_bp, "z": round(verdict.z, 2),
                 "days": t.complaint_days},
        now=now,
    )  # fmt: skip
    return [] if alert is None else [alert]


def _check_province(uow: UnitOfWork) -> None:
    scope = uow.actor.scope_path
    if scope is not None and not is_root_path(scope):
        raise Forbidden("the monitor scan covers every running case: run it at the province")


def scan(
    *,
    uow: UnitOfWork,
    now: datetime | None = None,
    con: BaseBackend | None = None,
    directory: Path | None = None,
    mailer: Mailer | None = None,
) -> MonitorScanRead:
    """Evaluate every running case against the alert rules (idempotent; module doc), then mail
    the alerts not mailed yet."""
    _check_province(uow)
    moment = now or utcnow()
    issuing.overdue_issues(uow=uow, now=moment)  # rule (d); commits its own alerts
    cases = list(
        uow.session.scalars(select(Case).where(Case.status == CaseStatus.RUNNING).order_by(Case.id))
    )
    skipped: list[str] = []
    complaints = con is not None and has_table(con, "complaints")
    if not complaints:
        skipped.append("complaint_spike: the warehouse has no complaints table")
    raised: list[CaseAlert] = []
    # Completed cases without a recorded evaluation in time (issue 9: closing the loop).
    raised += overdue_evaluations(uow=uow, now=moment)
    for case in cases:
        thresholds, _ = settings_for(uow, case.org_code)
        raised += _execution_rule(uow, case, moment, thresholds)
        raised += _failure_rule(uow, case, moment, thresholds)
        if complaints:
            assert con is not None
            try:
                raised += _complaint_rule(uow, case, moment, thresholds, con, directory)
            except DomainError as error:  # a run's list file gone: say so, scan the rest
                skipped.append(f"complaint_spike: case {case.code}: {error.message}")
    uow.commit()  # the alerts stand before any mail is tried
    mail = send_pending(uow=uow, mailer=mailer, now=moment)
    return MonitorScanRead(
        as_of=moment, cases=len(cases), raised=alert_reads(uow, raised), skipped=skipped, mail=mail,
        open=count_open(uow),
    )  # fmt: skip


# -- e-mail --------------------------------------------------------------------------------------


def _percent(bp: Any) -> str:
    return "—" if bp is None else f"{int(bp) / 100:g}%"


def describe(alert: MonitorAlertRead, locale: str) -> str:
    """The alert in words, in ``locale`` (the console and the e-mail say the same)."""
    d = alert.details or {}
    if alert.kind is AlertKind.EXECUTION_BEHIND and d:
        where = alert.org_code or gettext_for(locale, N_("The whole case"))
        metric = gettext_for(locale, _METRIC_WORDS.get(str(d.get("metric")), str(d.get("metric"))))
        return gettext_for(
            locale, N_("%(where)s: %(metric)s by %(on)s were %(actual)s, target %(target)s.")
        ) % {"where": where, "metric": metric, "on": d.get("on"), "actual": d.get("actual"),
             "target": d.get("target")}  # fmt: skip
    if alert.kind is AlertKind.FAILURE_SPIKE and d:
        return gettext_for(
            locale,
            N_("%(channel)s: %(failed)s of %(settled)s messages failed in the last %(minutes)s "
               "minutes (%(rate)s; usually %(baseline)s)."),
        ) % {"channel": d.get("channel"), "failed": d.get("failed"), "settled": d.get("settled"),
             "minutes": d.get("minutes"), "rate": _percent(d.get("rate_bp")),
             "baseline": _percent(d.get("baseline_bp"))}  # fmt: skip
    if alert.kind is AlertKind.COMPLAINT_SPIKE and d:
        return gettext_for(
            locale,
            N_("%(complained)s of %(contacted)s contacted subscribers complained within %(days)s "
               "days of contact (%(rate)s; comparison group %(comparison)s)."),
        ) % {"complained": d.get("complained"), "contacted": d.get("contacted"),
             "days": d.get("days"), "rate": _percent(d.get("rate_bp")),
             "comparison": _percent(d.get("comparison_bp"))}  # fmt: skip
    if alert.kind is AlertKind.ACK_OVERDUE:
        return gettext_for(
            locale, N_("%(unit)s has not acknowledged the case by its deadline.")
        ) % {"unit": alert.org_code or "—"}
    return alert.message


_METRIC_WORDS = {
    Metric.CONTACTS.value: N_("contacts"),
    Metric.TAKERS.value: N_("takers"),
    Metric.TAKE_UP_BP.value: N_("take-up (bp)"),
}


def _mail(alert: MonitorAlertRead, case: Case, recipients: Sequence[str], locale: str) -> Message:
    subject = gettext_for(locale, N_("[telmark alert] %(case)s: %(kind)s")) % {
        "case": case.code,
        "kind": gettext_for(locale, domain.KIND_LABELS[alert.kind]),
    }
    body = "\n".join(
        [
            f"{case.code} {case.name}",
            describe(alert, locale),
            "",
            gettext_for(locale, N_("Raised at %(at)s UTC. Acknowledge or resolve it at /monitor."))
            % {"at": f"{alert.raised_at:%Y-%m-%d %H:%M}"},
        ]
    )
    return Message(key=f"alert-{alert.id}", to=", ".join(recipients), body=body, subject=subject)


def smtp_mailer(settings: SmtpSettings | None = None) -> Mailer:
    """Send through the SMTP channel (``TELMARK_SMTP_*``), on a thread with its own loop so
    it works from a route, the CLI or a caller that already runs an event loop."""
    channel = SmtpChannel(settings or SmtpSettings())

    def send(messages: Sequence[Message]) -> list[SendResult]:
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, channel.send_batch(messages)).result()

    return send


def send_pending(
    *, uow: UnitOfWork, mailer: Mailer | None = None, now: datetime | None = None
) -> MailRead:
    """Mail every unresolved alert not mailed yet (pending or failed) to its case's recipients;
    record each outcome. A failed mail stays ``failed`` and is tried again next time."""
    moment = now or utcnow()
    alerts = list(
        uow.session.scalars(
            select(CaseAlert)
            .where(
                CaseAlert.email_state.in_([EmailState.PENDING.value, EmailState.FAILED.value]),
                CaseAlert.status != AlertStatus.RESOLVED,
            )
            .order_by(CaseAlert.id)
        )
    )
    locale = get_settings().default_locale
    outgoing: list[tuple[CaseAlert, Message]] = []
    waiting = 0
    for alert in alerts:
        case = uow.session.get(Case, alert.case_id)
        assert case is not None
        _, recipients = settings_for(uow, case.org_code)
        if not recipients:
            waiting += 1
            alert.email_error = f"no e-mail recipients configured for {case.org_code} or above"
            continue
        outgoing.append((alert, _mail(alert_reads(uow, [alert])[0], case, recipients, locale)))
    sent = failed = 0
    if outgoing:
        send = mailer or smtp_mailer()
        try:
            results = {r.key: r for r in send([m for _, m in outgoing])}
        except ChannelUnavailable as error:
            results = {}
            for _, message in outgoing:
                results[message.key] = SendResult(
                    message.key, SendOutcome.TRANSIENT, error=str(error)
                )
        for alert, message in outgoing:
            result = results.get(message.key)
            alert.email_attempts += 1
            if result is not None and result.accepted:
                alert.email_state, alert.emailed_at, alert.email_error = (
                    EmailState.SENT.value, moment, None,
                )  # fmt: skip
                sent += 1
            else:
                alert.email_state = EmailState.FAILED.value
                alert.email_error = ((result.error if result else None) or "not sent")[:500]
                failed += 1
    uow.session.flush()
    uow.commit()
    return MailRead(sent=sent, failed=failed, waiting=waiting)
