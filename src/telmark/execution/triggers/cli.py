"""``telmark triggers``: case rules, the Redis stream consumer, the event simulator.

    telmark triggers set-rule 7 --event balance_low --condition 'balance_fen < 1000'
    telmark triggers rules
    telmark triggers consume --stream telmark:events --group engine --consumer c1
    telmark triggers simulate --events 10000 --rate 2000 --redis-stream telmark:events
    telmark triggers decisions --limit 20

The consumer acts as the system at the province (the engine arbitrates across
every city's cases); its Redis comes from ``--redis-url`` or ``TELMARK_REDIS_URL``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Annotated

import typer

from telmark.actor import Actor
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
from telmark.execution.triggers import service, simulator
from telmark.execution.triggers.domain import EventType, parse_condition
from telmark.execution.triggers.engine import Event
from telmark.execution.triggers.schemas import BatchRead, ConditionIn, TriggerRuleIn
from telmark.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True)
CaseArg = Annotated[int, typer.Argument(help="Case id.", show_default=False)]
ENGINE_ACTOR = Actor(username="triggers", channel="system")


@app.command("rules")
def rules(json_output: JsonOpt = False) -> None:
    """List the cases' trigger rules with today's decisions."""
    with command_uow() as uow:
        found = service.list_rules(uow=uow)
    if json_output:
        print_json([r.model_dump(mode="json") for r in found])
        return
    print_table(
        "trigger rules",
        ["case", "status", "event", "condition", "cooldown", "per day", "today"],
        [
            [r.case_code, r.case_status, r.event_type.value, r.condition_text or "—",
             r.cooldown_days, r.max_per_day or "—", r.decided_today]
            for r in found
        ],
    )  # fmt: skip


@app.command("set-rule")
def set_rule(
    case_id: CaseArg,
    event: Annotated[EventType, typer.Option("--event", help="The event the case reacts to.")],
    condition: Annotated[
        str | None, typer.Option(help="FIELD OP VALUE on the payload, e.g. 'balance_fen < 1000'.")
    ] = None,
    cooldown_days: Annotated[int, typer.Option(min=0, max=365)] = 30,
    max_per_day: Annotated[int | None, typer.Option(min=1, help="Decisions a day at most.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Attach (or replace) a case's trigger rule."""
    with command_uow() as uow:
        parsed = None if condition is None else parse_condition(event, condition)
        spec = TriggerRuleIn(
            event_type=event,
            condition=None
            if parsed is None
            else ConditionIn(field=parsed.field, op=parsed.op, value=parsed.value),
            cooldown_days=cooldown_days,
            max_per_day=max_per_day,
        )
        rule = service.set_rule(uow=uow, case_id=case_id, spec=spec)
    if json_output:
        print_json(rule.model_dump(mode="json"))
        return
    console.print(
        f"case {rule.case_code} reacts to {rule.event_type.value}"
        f"{f' when {rule.condition_text}' if rule.condition_text else ''} "
        f"(cooldown {rule.cooldown_days} days, revision {rule.revision})"
    )


@app.command("remove-rule")
def remove_rule(case_id: CaseArg) -> None:
    """Detach a case's trigger rule (its decisions stay)."""
    with command_uow() as uow:
        service.remove_rule(uow=uow, case_id=case_id)
    console.print(f"case {case_id} no longer reacts to events")


@app.command("decisions")
def decisions(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    case_id: Annotated[int | None, typer.Option("--case")] = None,
    json_output: JsonOpt = False,
) -> None:
    """The latest decisions, newest first (numbers masked)."""
    with command_uow() as uow:
        found = service.recent_decisions(uow=uow, limit=limit, case_id=case_id)
    if json_output:
        print_json([d.model_dump(mode="json") for d in found])
        return
    print_table(
        "trigger decisions",
        ["decided", "event", "number", "case", "outcome", "reason", "channel", "send at"],
        [
            [d.decided_at.isoformat(timespec="seconds"), d.event_id, d.msisdn or "—",
             d.case_code or "—", d.outcome.value, d.reason.value if d.reason else "—",
             d.channel or "—", d.send_at.isoformat(timespec="minutes") if d.send_at else "—"]
            for d in found
        ],
    )  # fmt: skip


def _redis(url: str | None) -> object:
    import redis

    return redis.Redis.from_url(url or get_settings().redis_url, decode_responses=True)


@app.command("consume")
def consume(
    stream: Annotated[str, typer.Option(help="The Redis stream of events.")],
    group: Annotated[str, typer.Option(help="The consumer group (created if missing).")],
    consumer: Annotated[str, typer.Option(help="This consumer's name in the group.")],
    redis_url: Annotated[str | None, typer.Option(help="Default: TELMARK_REDIS_URL.")] = None,
    batch: Annotated[int, typer.Option(min=1, max=1000)] = 500,
    block_ms: Annotated[int, typer.Option(min=1)] = 20,
    claim_idle_ms: Annotated[int, typer.Option(min=0, help="Reclaim entries pending so long.")] = (
        30_000
    ),
    max_events: Annotated[int | None, typer.Option(min=1, help="Stop after so many.")] = None,
    idle_stop: Annotated[
        float | None, typer.Option(help="Stop after so many idle seconds.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Decide the stream's events: read, decide, commit, acknowledge; reclaim after a crash."""
    settings = get_settings()
    client = _redis(redis_url)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with command_warehouse() as con, domain_errors():
        with UnitOfWork(actor=ENGINE_ACTOR) as uow:
            runtime = service.load_runtime(
                uow=uow, con=con, holdout_key=settings.holdout_key.get_secret_value()
            )
        console.print(
            f"engine loaded: {runtime.engine.base.size:,} lines, "
            f"cases {', '.join(c.code for c in runtime.engine.cases.values()) or '—'}"
        )

        def decide(events: Sequence[Event]) -> BatchRead:
            with UnitOfWork(actor=ENGINE_ACTOR) as uow:
                return service.ingest(uow=uow, con=con, runtime=runtime, events=events)

        result = service.consume(
            client=client, stream=stream, group=group, consumer=consumer, decide=decide,
            batch=batch, block_ms=block_ms, claim_idle_ms=claim_idle_ms, max_events=max_events,
            idle_stop_s=idle_stop, stop=stop,
        )  # fmt: skip
    figures = {
        "read": result.read, "decided": result.decided, "duplicates": result.duplicates,
        "invalid": result.invalid, "reclaimed": result.reclaimed,
        **runtime.engine.stats.summary(),
    }  # fmt: skip
    if json_output:
        print_json(figures)
        return
    latency = figures["latency_ms"]
    console.print(
        f"{result.read:,} entries: {result.decided:,} decided, {result.duplicates:,} already "
        f"decided, {result.invalid:,} invalid, {result.reclaimed:,} reclaimed; latency ms "
        f"p50 {latency['p50']} p99 {latency['p99']}"
    )


@app.command("simulate")
def simulate(
    events: Annotated[int, typer.Option(min=1, help="How many events.")] = 1000,
    rate: Annotated[float, typer.Option(min=1, help="Events per second.")] = 500,
    redis_stream: Annotated[str | None, typer.Option(help="XADD them to this stream.")] = None,
    http: Annotated[str | None, typer.Option(help="POST them to this telmark (base URL).")] = None,
    token: Annotated[str | None, typer.Option(help="API token for --http.")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Default: TELMARK_REDIS_URL.")] = None,
    seed: int = 1,
    batch: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Generate plausible events for random lines of the warehouse and replay them."""
    if (redis_stream is None) == (http is None):
        raise typer.BadParameter("give exactly one of --redis-stream or --http")
    if http is not None and not token:
        raise typer.BadParameter("--http needs --token (an API token with triggers:ingest)")
    with command_warehouse() as con:
        generated = simulator.generate(con, events, seed=seed)
    if redis_stream is not None:
        sink = simulator.redis_sink(_redis(redis_url), redis_stream)
        seconds = simulator.replay(generated, rate=rate, sink=sink, batch=batch)
    else:
        import httpx

        assert http is not None
        assert token is not None
        with httpx.Client(timeout=30) as client:
            sink = simulator.http_sink(client, http, token)
            seconds = simulator.replay(generated, rate=rate, sink=sink, batch=batch)
    console.print(f"{len(generated):,} events sent in {seconds:.1f} s")
