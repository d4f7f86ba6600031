"""``telmark monitor``: case progress against checkpoints, the alert scan, the alert inbox.

The CLI acts with server rights (every unit), as every telmark command does;
acknowledgements and resolutions name the operating-system user. Examples::

    telmark monitor scan --now 2026-10-20T02:00:00+00:00
    telmark monitor status --case-id 7 --by city --json
    telmark monitor alerts --status open
    telmark monitor ack 12 --note "市公司已电话督办"
    telmark monitor resolve 12 --note "补发完成"
    telmark monitor settings P32 --recipient ops@example.com --set execution_ratio_bp=8500
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Annotated

import typer

from telmark.cases.domain import AlertStatus
from telmark.clikit import JsonOpt, command_uow, command_warehouse, console, print_json, print_table
from telmark.config import get_settings
from telmark.errors import InvalidInput
from telmark.execution.monitor import scan as monitor_scan
from telmark.execution.monitor import service
from telmark.execution.monitor.domain import Level
from telmark.execution.monitor.schemas import MonitorAlertRead, SettingIn

app = typer.Typer(no_args_is_help=True)

AlertArg = Annotated[int, typer.Argument(help="Alert id.", show_default=False)]


def _rate(bp: int | None) -> str:
    return "—" if bp is None else f"{bp / 100:.1f}%"


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"now: {text!r} is not an ISO date-time", details=[{"field": "now"}]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _show_alert(alert: MonitorAlertRead, json_output: bool) -> None:
    if json_output:
        print_json(alert.model_dump(mode="json"))
        return
    console.print(
        f"alert {alert.id} [{alert.status}] {alert.kind} {alert.case_code}: {alert.message}"
    )
    if alert.ack_note:
        console.print(f"  acknowledged by {alert.acknowledged_by}: {alert.ack_note}")
    if alert.resolve_note:
        console.print(f"  resolved by {alert.resolved_by}: {alert.resolve_note}")


@app.command("scan")
def scan_command(
    now: Annotated[
        str | None, typer.Option("--now", help="Evaluate as of this ISO date-time (default: now).")
    ] = None,
    warehouse: Annotated[
        bool, typer.Option("--warehouse/--no-warehouse", help="Check complaints in the warehouse.")
    ] = True,
    json_output: JsonOpt = False,
) -> None:
    """Evaluate every running case against the alert rules (idempotent); mail new alerts."""
    settings = get_settings()
    with command_warehouse() if warehouse else nullcontext() as con, command_uow() as uow:
        result = monitor_scan.scan(
            uow=uow, now=_moment(now), con=con, directory=settings.resolved_targeting_dir
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"{result.cases} running case(s) evaluated; {len(result.raised)} new alert(s), "
        f"{result.open} open; mail: {result.mail.sent} sent, {result.mail.failed} failed, "
        f"{result.mail.waiting} without recipients"
    )
    for alert in result.raised:
        console.print(f"  {alert.id} {alert.kind} {alert.case_code}: {alert.message}")
    for note in result.skipped:
        console.print(f"  skipped {note}")


@app.command("status")
def status_command(
    case_id: Annotated[int, typer.Option("--case-id", help="The case.")],
    by: Annotated[Level | None, typer.Option("--by", help="Break down per org level.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """A case's funnel and checkpoints against plan (optionally per city, outlet or manager)."""
    with command_uow() as uow:
        result = service.progress(uow=uow, case_id=case_id, by=by)
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    f = result.funnel
    console.print(
        f"{result.case_code} {result.case_name} [{result.status}] as of "
        f"{result.as_of:%Y-%m-%d %H:%M} UTC: planned {f.planned:,}, "
        f"sent {f.sent:,} ({_rate(f.sent_bp)}), delivered "
        f"{f.delivered:,} ({_rate(f.delivered_bp)}), tasks {f.tasks_done:,}/{f.tasks_assigned:,}, "
        f"contacts {f.contacts:,}, takers {f.takers:,}; {result.open_alerts} open alert(s)"
    )
    r = result.responses
    console.print(
        f"responses: {r.responders:,} of {r.exposed:,} treated ({_rate(r.take_up_bp)}), "
        f"control take-up {_rate(r.control_take_up_bp)} of {r.control_exposed:,}"
    )
    print_table(
        "checkpoints",
        ["on", "metric", "target", "plan today", "actual", "state"],
        [[c.on, c.metric, c.target, c.plan_now, c.actual, c.state] for c in result.checkpoints],
    )
    if by is not None:
        print_table(
            f"per {by}",
            [by.value, "planned", "sent", "delivered", "tasks done", "contacts", "plan", "state"],
            [
                [r.key or "—", r.funnel.planned, r.funnel.sent, r.funnel.delivered,
                 r.funnel.tasks_done, r.funnel.contacts, r.plan_contacts, r.state]
                for r in result.rows
            ],
        )  # fmt: skip


@app.command("alerts")
def alerts_command(
    status: Annotated[
        AlertStatus | None, typer.Option("--status", help="Only this status.")
    ] = None,
    case_id: Annotated[int | None, typer.Option("--case-id")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Alerts, newest first (the monitor's and the acknowledgement alerts)."""
    with command_uow() as uow:
        alerts = service.list_alerts(uow=uow, status=status, case_id=case_id)
    if json_output:
        print_json([a.model_dump(mode="json") for a in alerts])
        return
    print_table(
        f"{len(alerts)} alert(s)",
        ["id", "case", "kind", "unit", "status", "raised", "e-mail", "message"],
        [
            [a.id, a.case_code, a.kind, a.org_code, a.status, f"{a.raised_at:%Y-%m-%d %H:%M}",
             a.email_state, a.message]
            for a in alerts
        ],
    )  # fmt: skip


@app.command("ack")
def ack_command(
    alert_id: AlertArg,
    note: Annotated[str, typer.Option("--note", help="Who follows it up, and how.")] = "",
    json_output: JsonOpt = False,
) -> None:
    """Acknowledge an open alert."""
    with command_uow() as uow:
        alert = service.acknowledge(uow=uow, alert_id=alert_id, note=note)
    _show_alert(alert, json_output)


@app.command("resolve")
def resolve_command(
    alert_id: AlertArg,
    note: Annotated[str, typer.Option("--note", help="What was done (required).")],
    json_output: JsonOpt = False,
) -> None:
    """Resolve an alert with a note."""
    with command_uow() as uow:
        alert = service.resolve(uow=uow, alert_id=alert_id, note=note)
    _show_alert(alert, json_output)


@app.command("settings")
def settings_command(
    org: Annotated[str, typer.Argument(help="Unit code (its cases and those below use it).")],
    recipient: Annotated[
        list[str] | None, typer.Option("--recipient", help="E-mail address (repeat).")
    ] = None,
    values: Annotated[
        list[str] | None, typer.Option("--set", help="name=value threshold (repeat).")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Show a unit's alert thresholds and recipients, or set them with --recipient/--set."""
    with command_uow() as uow:
        if recipient is None and values is None:
            result = service.get_setting(uow=uow, org_code=org)
        else:
            current = service.get_setting(uow=uow, org_code=org)
            thresholds = dict(current.thresholds) if current.configured_at == org else {}
            for i, pair in enumerate(values or []):
                name, sep, value = pair.partition("=")
                if not sep or not value.strip().lstrip("-").isdigit():
                    raise InvalidInput(
                        f"set[{i}]: write name=integer, got {pair!r}", details=[{"field": "set"}]
                    )
                thresholds[name.strip()] = int(value)
            spec = SettingIn(
                thresholds=thresholds,
                recipients=recipient if recipient is not None else current.recipients,
            )
            result = service.set_setting(uow=uow, org_code=org, spec=spec)
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    where = result.configured_at or "defaults"
    console.print(
        f"{result.org_code} (from {where}): recipients {', '.join(result.recipients) or '—'}"
    )
    print_table("thresholds", ["name", "value"], [[k, v] for k, v in result.thresholds.items()])
