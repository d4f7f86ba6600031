"""``telmark execution``: load a targeting run into the outbox, dispatch it, follow it.

    telmark execution templates set 3 sms --body '尊敬的客户，{{ offer_name }}已为您预留。'
    telmark execution templates preview 3 sms --run 12
    telmark execution load 12
    telmark execution dispatch --channel sms --tps 200 --until-empty
    telmark execution status --case 3

The SMSC, SMTP relay and push endpoint come from ``TELMARK_SMPP_*``,
``TELMARK_SMTP_*`` and ``TELMARK_WEBHOOK_*`` (``execution.channels.config``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
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
from telmark.config import get_settings
from telmark.execution import loading, service
from telmark.execution.channels.base import Channel, ChannelKind
from telmark.execution.channels.config import SmppSettings, SmtpSettings, WebhookSettings
from telmark.execution.channels.sandbox import SandboxChannel
from telmark.execution.dispatch import (
    DispatchConfig,
    Dispatcher,
    SmsDispatchChannel,
    default_worker_id,
)
from telmark.execution.domain import OUTBOX_STATE_LABELS, RetryPolicy, check_channel
from telmark.execution.schemas import DispatchRead, PreviewIn, TemplateIn

app = typer.Typer(no_args_is_help=True)
templates_app = typer.Typer(no_args_is_help=True)
app.add_typer(templates_app, name="templates", help="Message templates per case and channel.")

CaseArg = Annotated[int, typer.Argument(help="Case id.", show_default=False)]
ChannelArg = Annotated[str, typer.Argument(help="sms, email, app_push or wechat.")]


@templates_app.command("list")
def templates_list(
    case_id: Annotated[int | None, typer.Option("--case", help="Only this case.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List message templates."""
    with command_uow() as uow:
        rows = service.list_templates(uow=uow, case_id=case_id)
    if json_output:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        "message templates",
        ["case", "channel", "revision", "variables", "body"],
        [[r.case_id, r.channel, r.revision, ", ".join(r.variables), r.body] for r in rows],
    )


def _body(body: str | None, body_file: Path | None) -> str:
    if body_file is not None:
        return body_file.read_text(encoding="utf-8")
    if body is None:
        raise typer.BadParameter("give --body or --body-file")
    return body


@templates_app.command("set")
def templates_set(
    case_id: CaseArg,
    channel: ChannelArg,
    body: Annotated[str | None, typer.Option("--body", help="Message text (Jinja).")] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="Read it from a file.")
    ] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="E-mail subject.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Save the case's message for CHANNEL (checked against the variables available)."""
    with domain_errors():
        spec = TemplateIn(body=_body(body, body_file), subject=subject)
    with command_uow() as uow:
        row = service.set_template(uow=uow, case_id=case_id, channel=channel, spec=spec)
    if json_output:
        print_json(row.model_dump(mode="json"))
    else:
        console.print(
            f"case {row.case_id} {row.channel}: revision {row.revision}, "
            f"variables {', '.join(row.variables) or 'none'}"
        )


@templates_app.command("delete")
def templates_delete(case_id: CaseArg, channel: ChannelArg, json_output: JsonOpt = False) -> None:
    """Remove the case's message for CHANNEL."""
    with command_uow() as uow:
        service.delete_template(uow=uow, case_id=case_id, channel=channel)
    if json_output:
        print_json({"deleted": True, "case_id": case_id, "channel": channel})
    else:
        console.print(f"case {case_id} {channel}: template deleted")


@templates_app.command("preview")
def templates_preview(
    case_id: CaseArg,
    channel: ChannelArg,
    body: Annotated[str | None, typer.Option("--body", help="Try this text (else saved).")] = None,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    run_id: Annotated[int | None, typer.Option("--run", help="Samples from this run.")] = None,
    samples: Annotated[int, typer.Option("--samples", min=1, max=20)] = 3,
    json_output: JsonOpt = False,
) -> None:
    """Render the template for sample rows (from a run, or an example row)."""
    with command_warehouse() as con, command_uow() as uow:
        if body is None:
            saved = service.get_template(uow=uow, case_id=case_id, channel=channel)
            body, subject = saved.body, saved.subject
        spec = PreviewIn(body=body, subject=subject, run_id=run_id, samples=samples)
        result = service.preview_template(
            uow=uow, con=con, case_id=case_id, channel=channel, spec=spec
        )
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    for sample in result.samples:
        shape = (
            f" [{sample.sms_coding}, {sample.sms_segments} segment(s)]" if sample.sms_coding else ""
        )
        console.print(f"{sample.body or '—'}{shape}")
        for problem in sample.problems:
            console.print(
                f"  ! {problem.reason % problem.params if problem.params else problem.reason}"
            )


@app.command("load")
def load(
    run_id: Annotated[int, typer.Argument(help="Targeting run id.", show_default=False)],
    json_output: JsonOpt = False,
) -> None:
    """Put a run's treatment contacts into the outbox (idempotent: a rerun adds nothing)."""
    with command_warehouse() as con, command_uow() as uow:
        result = loading.load_run(uow=uow, con=con, run_id=run_id)
    if json_output:
        print_json(result.model_dump(mode="json"))
        return
    console.print(
        f"run {run_id}: {result.inserted} rows added, {result.already_loaded} already there; "
        f"{result.control} control rows kept out, {result.not_dispatched} not dispatched here, "
        f"{result.no_address} without an address"
    )


@app.command("status")
def status(
    case_id: Annotated[int | None, typer.Option("--case")] = None,
    run_id: Annotated[int | None, typer.Option("--run")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Outbox rows by case, channel, city and state."""
    with command_uow() as uow:
        rows = service.counts(uow=uow, case_id=case_id, run_id=run_id)
    if json_output:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        "outbox",
        ["case", "channel", "city", "state", "rows"],
        [
            [r.case_code, r.channel, r.city_id or "", OUTBOX_STATE_LABELS[r.state], r.count]
            for r in rows
        ],
    )


SANDBOX_KINDS = {"sms": ChannelKind.SMS, "email": ChannelKind.EMAIL}


def build_channel(channel: str, *, sandbox: bool = False) -> Channel:
    """The live channel for ``channel``, configured from the environment (or the sandbox,
    which writes the messages to a file under the data directory and sends nothing)."""
    if sandbox:
        directory = get_settings().data_dir / "sandbox"
        return SandboxChannel(SANDBOX_KINDS.get(channel, ChannelKind.WEBHOOK), directory, channel)
    if channel == "sms":
        return SmsDispatchChannel(SmppSettings())
    if channel == "email":
        from telmark.execution.channels.email import SmtpChannel

        return SmtpChannel(SmtpSettings())
    from telmark.execution.channels.webhook import WebhookChannel

    return WebhookChannel(WebhookSettings())


@app.command("dispatch")
def dispatch(
    channel: Annotated[str, typer.Option("--channel", help="sms, email, app_push or wechat.")],
    worker_id: Annotated[str | None, typer.Option("--worker-id", help="Default host:pid.")] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=10_000)] = 100,
    tps: Annotated[float | None, typer.Option("--tps", min=0.001, help="Messages/s.")] = None,
    until_empty: Annotated[
        bool, typer.Option("--until-empty", help="Stop when nothing is left to send now.")
    ] = False,
    lease: Annotated[float, typer.Option("--lease", min=0.1, help="Claim lease (s).")] = 60.0,
    grace: Annotated[
        float, typer.Option("--in-doubt-grace", min=0.0, help="Wait for receipts (s).")
    ] = 30.0,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, max=50)] = 5,
    retry_base: Annotated[float, typer.Option("--retry-base", min=0.01, help="(s)")] = 30.0,
    idle: Annotated[float, typer.Option("--idle", min=0.01, help="Poll interval (s).")] = 1.0,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Write the messages to <data dir>/sandbox/<channel>.jsonl instead of sending.",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Send due outbox rows of one channel (module doc of ``execution.dispatch``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with domain_errors():
        check_channel(channel)
        config = DispatchConfig(
            channel=channel,
            worker=worker_id or default_worker_id(),
            batch=batch,
            tps=tps,
            lease=timedelta(seconds=lease),
            in_doubt_grace=timedelta(seconds=grace),
            retry=RetryPolicy(max_attempts=max_attempts, base=timedelta(seconds=retry_base)),
            idle=idle,
            until_empty=until_empty,
        )
        result = asyncio.run(_dispatch(config, sandbox=sandbox))
    if json_output:
        print_json(result.model_dump(mode="json"))
    else:
        console.print(
            f"{config.worker} {channel}: {result.sent} sent, {result.failed} failed, "
            f"{result.retried} to retry, {result.suppressed} suppressed, {result.deferred} "
            f"deferred, {result.in_doubt} in doubt ({result.confirmed} confirmed, "
            f"{result.lost} sent again), {result.delivered} delivered"
        )


async def _dispatch(config: DispatchConfig, *, sandbox: bool = False) -> DispatchRead:
    # Outbox rows refer to tables of other domains (trigger decisions, runs, cases): their
    # mappers must all be known before the first query configures the mappers.
    import telmark.models  # noqa: F401

    channel = build_channel(config.channel, sandbox=sandbox)
    try:
        return await Dispatcher(config, channel).run()
    finally:
        await channel.close()
