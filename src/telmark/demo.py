"""``telmark demo`` and ``telmark serve``: one command from nothing to a running console."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from telmark.actor import cli_actor
from telmark.auth.demo import DemoLogin, seed_demo_users
from telmark.clikit import JsonOpt, console, print_json, print_table, progress_bar
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from telmark.errors import InvalidInput
from telmark.org import service as org_service
from telmark.uow import UnitOfWork
from telmark.warehouse.connection import connect, has_table

DEMO_SUBSCRIBERS = 200_000
DEMO_MONTHS = 6
DEMO_SEED = 20_260_101


@dataclass(frozen=True, slots=True)
class DemoState:
    generated: bool
    loaded: bool
    subscribers: int
    url: str
    logins: list[DemoLogin]
    # Steps that could not run on this data (e.g. too few port-outs to train a churn model).
    notes: list[str]


def _manifest_matches(directory: Path, subscribers: int, months: int, seed: int) -> bool:
    manifest = directory / "manifest.json"
    if not manifest.exists():
        return False
    data = json.loads(manifest.read_text(encoding="utf-8"))
    params = data.get("params", data)
    return (params.get("subscribers"), params.get("months"), params.get("seed")) == (
        subscribers,
        months,
        seed,
    )


def prepare_demo(
    *,
    subscribers: int = DEMO_SUBSCRIBERS,
    months: int = DEMO_MONTHS,
    seed: int = DEMO_SEED,
    host: str = "127.0.0.1",
    port: int = 8000,
    show_progress: bool = True,
) -> DemoState:
    """Migrate the database, generate and load a province if the warehouse has none, sync org.

    Rerunning is cheap: an existing warehouse is kept, an existing generated
    province with the same parameters is not regenerated.
    """
    from telmark.analysis.churn import service as churn_service
    from telmark.analysis.kpi import service as kpi_service
    from telmark.analysis.value import service as value_service
    from telmark.cases.seed import seed_examples as seed_cases
    from telmark.catalog.seed import seed_demo_catalog
    from telmark.execution.seed import seed_live_case
    from telmark.offers import service as offer_service
    from telmark.segments import service as segment_service
    from telmark.warehouse.generator import generate_province
    from telmark.warehouse.importer import load_directory

    settings = get_settings()
    settings.ensure_data_dir()
    upgrade_database()
    con = connect()
    generated = loaded = False
    if not has_table(con, "subscribers"):
        out_dir = settings.data_dir / "generated"
        with progress_bar(enabled=show_progress) as progress:
            if not _manifest_matches(out_dir, subscribers, months, seed):
                generate_province(
                    out_dir=out_dir,
                    subscribers=subscribers,
                    months=months,
                    seed=seed,
                    progress=progress,
                )
                generated = True
            load_directory(con=con, directory=out_dir, progress=progress)
        loaded = True
    if loaded or not has_table(con, "kpi_cube"):
        # The KPI cube is derived from the loaded tables (telmark.analysis.kpi).
        kpi_service.refresh_after_load(con=con)
    if loaded or not has_table(con, "customer_value"):
        # RFM tiers, decayed value and CLV of every line (telmark.analysis.value).
        value_service.refresh_customer_value(con=con)
    with UnitOfWork(actor=cli_actor()) as uow:
        org_service.sync_from_warehouse(uow=uow, con=con)
    with UnitOfWork(actor=cli_actor()) as uow:
        logins = seed_demo_users(uow=uow)
    notes: list[str] = []
    with UnitOfWork(actor=cli_actor()) as uow:
        # A churn model and its scores, so the churn page, the customer 360 pages and the
        # monthly report's segments at risk have something real to show. A very small
        # province may have too few port-outs to train on: the demo still runs without.
        try:
            if loaded or churn_service.active_model(uow=uow) is None:
                models = churn_service.models_dir(settings.data_dir)
                churn_service.train_model(uow=uow, con=con, models_dir=models)
            if loaded or not has_table(con, "churn_scores"):
                churn_service.score(uow=uow, con=con)
        except InvalidInput as exc:
            notes.append(f"churn model not trained: {exc}")
    with UnitOfWork(actor=cli_actor()) as uow:
        # Example segments (contract renewal, 5G upgrade, churn rescue) on a fresh database.
        segment_service.seed_examples(uow=uow)
    with UnitOfWork(actor=cli_actor()) as uow:
        # The catalog: every generated product, with bundle components, handset terms,
        # speeds and channels from the demo catalog (telmark.catalog.seed); rerun adds nothing.
        seed_demo_catalog(uow=uow, con=con)
    with UnitOfWork(actor=cli_actor()) as uow:
        # One active example offer per marketing tool, on the catalog's products.
        offer_service.seed_examples(uow=uow)
    with UnitOfWork(actor=cli_actor()) as uow:
        # Example cases at every stage (telmark.cases.seed): one issued to the cities with
        # one not acknowledged, one waiting for approval, one scheduled; rerun adds nothing.
        seed_cases(uow=uow, con=con, directory=settings.resolved_snapshot_dir)
    # A case in execution: targeted, sent on the sandbox channel, tasks for the outlets,
    # responses drawn from the hidden response model (telmark.execution.seed); rerun: nothing.
    live = seed_live_case(con=con, settings=settings)
    if live is not None:
        notes.append(
            f"live case {live.case_id}: {live.sent} messages to the sandbox "
            f"({settings.data_dir / 'sandbox'}), {live.tasks} front-line tasks, "
            f"{live.responses} simulated responses"
        )
    count = int(con.table("subscribers").count().to_pyarrow().as_py())
    con.disconnect()
    return DemoState(
        generated=generated,
        loaded=loaded,
        subscribers=count,
        url=f"http://{host}:{port}/",
        logins=logins,
        notes=notes,
    )


def serve(*, host: str, port: int) -> None:
    """Run the web app (API + console) with uvicorn until interrupted."""
    import uvicorn

    from telmark.web.app import create_app

    uvicorn.run(create_app(), host=host, port=port, log_level="info")


def demo_command(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    subscribers: Annotated[int, typer.Option(help="Province size if one is generated.")] = (
        DEMO_SUBSCRIBERS
    ),
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Prepare only; do not serve.")] = (
        False
    ),
    json_output: JsonOpt = False,
) -> None:
    """Prepare a demo province (if none) and serve the console."""
    state = prepare_demo(
        subscribers=subscribers, host=host, port=port, show_progress=not json_output
    )
    if json_output:
        print_json(state)
    else:
        what = (
            "generated and loaded"
            if state.generated
            else ("loaded" if state.loaded else "already in the warehouse")
        )
        console.print(f"[green]Province ready[/]: {state.subscribers:,} subscribers ({what}).")
        console.print(f"Console: [bold]{state.url}[/]   API docs: {state.url}api/docs")
        console.print(f"Data dir: {get_settings().data_dir}")
        for note in state.notes:
            console.print(f"[yellow]Note[/]: {note}")
        print_table(
            "Demo logins (one per role)",
            ["username", "password", "role", "org unit"],
            [
                (d.username, d.password, d.role, f"{d.org_name} ({d.org_code})")
                for d in state.logins
            ],
        )
    if not no_serve:
        serve(host=host, port=port)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Serve the API and console on the configured databases."""
    upgrade_database()
    serve(host=host, port=port)
