"""``telmark targeting``: the contact policy, targeting runs, explanations and list exports.

Until marketing cases are wired in, ``run`` takes each case on the command
line as ``--case id:code:snapshot_id:priority:weight_bp[:holdout_bp]`` with the
channels and offers shared by all of them, e.g.::

    telmark targeting run --key 2026-10-05 --on 2026-10-05 \\
        --case 1:RENEW:12:7:5000:1000 --case 2:UPGRADE:13:5:8000 --channel sms
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Annotated

import typer

from telmark.clikit import (
    JsonOpt,
    command_uow,
    command_warehouse,
    console,
    domain_errors,
    print_json,
    print_table,
)
from telmark.errors import InvalidInput
from telmark.targeting import lists, service
from telmark.targeting.domain import REASON_LABELS, CaseSpec, Group, Period
from telmark.targeting.schemas import ContactPolicyIn, ContactPolicyRead, TargetingRunRead

app = typer.Typer(no_args_is_help=True)
policy_app = typer.Typer(no_args_is_help=True)
app.add_typer(policy_app, name="policy", help="The contact policy: show, set.")

RunArg = Annotated[int, typer.Argument(help="Targeting run id.", show_default=False)]


def _show_policy(policy: ContactPolicyRead, json_output: bool) -> None:
    if json_output:
        print_json(policy.model_dump(mode="json"))
        return
    origin = "default, never saved" if policy.is_default else f"by {policy.created_by}"
    console.print(f"contact policy version {policy.version} ({origin})")
    caps = ", ".join(f"{c} {n}" for c, n in sorted(policy.channel_caps.items())) or "none"
    console.print(
        f"  cap {policy.global_cap} per {policy.period}; channel caps: {caps}; "
        f"minimum gap {policy.min_gap_days} days"
    )
    console.print(
        f"  quiet hours {policy.quiet_start:%H:%M}–{policy.quiet_end:%H:%M}; global holdout "
        f"{policy.global_holdout_bp / 100:.2f}% (key {policy.global_holdout_key})"
    )


@policy_app.command("show")
def policy_show(json_output: JsonOpt = False) -> None:
    """Show the contact policy in force."""
    with command_uow() as uow:
        policy = service.get_policy(uow=uow)
    _show_policy(policy, json_output)


def _channel_caps(values: list[str]) -> dict[str, int]:
    caps: dict[str, int] = {}
    for value in values:
        channel, _, number = value.partition("=")
        try:
            caps[channel.strip()] = int(number)
        except ValueError:
            raise InvalidInput(f"--channel-cap: expected CHANNEL=N, got {value!r}") from None
    return caps


def _clock(value: str, option: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option}: expected HH:MM, got {value!r}") from None


@policy_app.command("set")
def policy_set(
    cap: Annotated[int, typer.Option("--cap", help="Contacts per subscriber per period.")],
    period: Annotated[Period, typer.Option("--period")] = Period.WEEK,
    channel_cap: Annotated[
        list[str] | None, typer.Option("--channel-cap", help="CHANNEL=N, repeatable.")
    ] = None,
    min_gap: Annotated[int, typer.Option("--min-gap", help="Days between two contacts.")] = 2,
    quiet_start: Annotated[str, typer.Option("--quiet-start", help="HH:MM local.")] = "21:00",
    quiet_end: Annotated[str, typer.Option("--quiet-end", help="HH:MM local.")] = "08:00",
    holdout_bp: Annotated[int, typer.Option("--global-holdout-bp")] = 0,
    holdout_key: Annotated[str, typer.Option("--global-holdout-key")] = "global",
    note: Annotated[str, typer.Option("--note")] = "",
    json_output: JsonOpt = False,
) -> None:
    """Save the next version of the contact policy (every field given; audited)."""
    with domain_errors():
        spec = ContactPolicyIn(
            period=period,
            global_cap=cap,
            channel_caps=_channel_caps(channel_cap or []),
            min_gap_days=min_gap,
            quiet_start=_clock(quiet_start, "--quiet-start"),
            quiet_end=_clock(quiet_end, "--quiet-end"),
            global_holdout_bp=holdout_bp,
            global_holdout_key=holdout_key,
            note=note,
        )
    with command_uow() as uow:
        policy = service.set_policy(uow=uow, spec=spec)
    _show_policy(policy, json_output)


def _case(value: str, *, channels: tuple[str, ...], offers: tuple[str, ...], on: date) -> CaseSpec:
    parts = value.split(":")
    if len(parts) not in (5, 6):
        raise InvalidInput(
            f"--case: expected id:code:snapshot_id:priority:weight_bp[:holdout_bp], got {value!r}"
        )
    try:
        numbers = [int(p) for i, p in enumerate(parts) if i != 1]
    except ValueError:
        raise InvalidInput(f"--case: the numbers of {value!r} are not integers") from None
    return CaseSpec(
        case_id=numbers[0],
        code=parts[1],
        org_path="/",
        priority=numbers[2],
        business_weight_bp=numbers[3],
        snapshot_id=numbers[1],
        offer_codes=offers,
        channels=channels,
        holdout_bp=numbers[4] if len(numbers) > 4 else 0,
        starts_on=on,
        ends_on=on,
    )


def _show_run(run: TargetingRunRead, json_output: bool) -> None:
    if json_output:
        print_json(run.model_dump(mode="json"))
        return
    title = "simulation" if run.simulated else f"run {run.id} [{run.status}]"
    console.print(
        f"{title} {run.run_key} on {run.on}: {run.contacts or 0:,} contacts, "
        f"{run.controls or 0:,} controls (policy version {run.policy_version})"
    )
    if run.failure:
        console.print(f"[red]{run.failure}[/]")
    if run.summary is None:
        return
    for funnel in run.summary.funnel:
        steps = " → ".join(f"{s.step} {s.count:,}" for s in funnel.steps)
        console.print(f"  {funnel.case_code}: {steps}")
        excluded = {r: n for r, n in funnel.exclusions.items() if n}
        for reason, n in excluded.items():
            console.print(f"      {n:>10,}  {REASON_LABELS[reason]}")
    if run.summary.taken_from is not None:
        for case_id, n in sorted(run.summary.taken_from.items()):
            console.print(f"  the new case takes {n:,} targets from case {case_id}")
    flagged = [b for b in run.summary.balance if b.flagged]
    console.print(
        f"  balance: {len(run.summary.balance)} covariates checked, {len(flagged)} flagged"
    )
    if run.sha256:
        console.print(f"  lists SHA-256 {run.sha256}")


@app.command("run")
def run_command(
    key: Annotated[str, typer.Option("--key", help="Run key: the same key never runs twice.")],
    on: Annotated[str, typer.Option("--on", help="Contact day, YYYY-MM-DD.")],
    case: Annotated[
        list[str], typer.Option("--case", help="id:code:snapshot_id:priority:weight_bp[:holdout]")
    ],
    channel: Annotated[list[str], typer.Option("--channel", help="Channels in preference order.")],
    offer: Annotated[list[str] | None, typer.Option("--offer", help="Offer codes.")] = None,
    simulate: Annotated[bool, typer.Option("--simulate", help="Store nothing.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Run targeting for cases given on the command line (see the module help)."""
    with domain_errors():
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise InvalidInput(f"--on: expected YYYY-MM-DD, got {on!r}") from None
        specs = [_case(c, channels=tuple(channel), offers=tuple(offer or ()), on=day) for c in case]
    with command_warehouse() as con, command_uow() as uow:
        # Until cases exist the CLI's cases belong to the CLI user's unit.
        specs = [_with_path(s, uow.actor.scope_path or "/") for s in specs]
        with console.status("targeting…"):
            result = service.run_targeting(
                uow=uow, con=con, cases=specs, run_key=key, on=day, simulate=simulate
            )
    _show_run(result, json_output)


@app.command("run-cases")
def run_cases_command(
    key: Annotated[str, typer.Option("--key", help="Run key: the same key never runs twice.")],
    on: Annotated[str, typer.Option("--on", help="Contact day, YYYY-MM-DD.")],
    case_id: Annotated[
        list[int] | None,
        typer.Option("--case-id", help="Cases to target (default: every targetable case)."),
    ] = None,
    simulate: Annotated[bool, typer.Option("--simulate", help="Store nothing.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Run targeting for marketing cases: their snapshots, offers, channels and priorities."""
    with domain_errors():
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise InvalidInput(f"--on: expected YYYY-MM-DD, got {on!r}") from None
    from telmark.cases import service as cases_service  # the cases domain loads only here

    with command_warehouse() as con, command_uow() as uow:
        cases = cases_service.targeting_inputs(uow=uow, case_ids=case_id or None)
        with console.status("targeting…"):
            result = service.run_targeting(
                uow=uow, con=con, cases=cases, run_key=key, on=day, simulate=simulate
            )
    _show_run(result, json_output)


def _with_path(spec: CaseSpec, path: str) -> CaseSpec:
    return CaseSpec.from_json({**spec.as_json(), "org_path": path})


@app.command("runs")
def runs_command(json_output: JsonOpt = False) -> None:
    """List the latest targeting runs."""
    with command_uow() as uow:
        runs = service.list_runs(uow=uow)
    if json_output:
        print_json([r.model_dump(mode="json") for r in runs])
        return
    print_table(
        "targeting runs",
        ["id", "key", "status", "on", "cases", "contacts", "controls", "by"],
        [
            [r.id, r.run_key, r.status, r.on, ",".join(r.case_codes), r.contacts, r.controls,
             r.created_by]
            for r in runs
        ],
    )  # fmt: skip


@app.command("show")
def show_command(run_id: RunArg, json_output: JsonOpt = False) -> None:
    """Show one run: funnel, exclusions, balance and list checksum."""
    with command_uow() as uow:
        run = service.get_run(uow=uow, run_id=run_id)
    _show_run(run, json_output)


@app.command("explain")
def explain_command(
    run_id: RunArg,
    subscriber_id: Annotated[int, typer.Option("--subscriber", help="Subscriber id.")],
    json_output: JsonOpt = False,
) -> None:
    """Why a run gave a subscriber to the case it did."""
    with command_uow() as uow:
        found = lists.explain(uow=uow, run_id=run_id, subscriber_id=subscriber_id)
    if json_output:
        print_json(found.model_dump(mode="json"))
        return
    console.print(found.rule)
    print_table(
        f"subscriber {subscriber_id} in run {run_id}",
        ["case", "group", "channel", "priority", "weight", "propensity‰", "value", "score",
         "rank", "beaten by"],
        [
            [c.case_code, c.group, c.channel, c.priority, c.business_weight_bp,
             c.propensity_permille, c.value_yuan, c.score, c.rank, c.beaten_by]
            for c in found.candidates
        ],
    )  # fmt: skip


@app.command("export")
def export_command(
    run_id: RunArg,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    case_id: Annotated[int | None, typer.Option("--case")] = None,
    channel: Annotated[str | None, typer.Option("--channel")] = None,
    city: Annotated[str | None, typer.Option("--city")] = None,
    outlet: Annotated[str | None, typer.Option("--outlet")] = None,
    manager: Annotated[str | None, typer.Option("--account-manager")] = None,
    group: Annotated[Group, typer.Option("--group")] = Group.TREATMENT,
    unmask: Annotated[bool, typer.Option("--unmask", help="Mobile numbers in clear.")] = False,
) -> None:
    """Write a run's contact list (filtered) as CSV; numbers masked unless --unmask."""
    filters = lists.ListFilter(
        case_id=case_id, channel=channel, city_id=city, outlet_id=outlet,
        account_manager_id=manager, group=group,
    )  # fmt: skip
    with command_warehouse() as con, command_uow() as uow:
        chunks = lists.export_csv(uow=uow, con=con, run_id=run_id, filters=filters, unmask=unmask)
        temporary = out.with_name(f".{out.name}.tmp")
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        temporary.replace(out)
    console.print(f"wrote {out}")
