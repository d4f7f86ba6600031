"""The ``telmark`` command: one Typer app with a sub-app per domain."""

from __future__ import annotations

import typer

from telmark import __version__
from telmark.clikit import JsonOpt, console, print_json

app = typer.Typer(
    name="telmark",
    help="telmark — marketing system for full-service telecom operators.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _register() -> None:
    # Imported here so `telmark --help` stays fast and import order stays acyclic.
    from telmark.analysis.cli import app as analysis_app
    from telmark.audit.cli import app as audit_app
    from telmark.auth.cli import app as users_app
    from telmark.cases.cli import app as cases_app
    from telmark.catalog.cli import app as catalog_app
    from telmark.consent.cli import app as consent_app
    from telmark.customers.cli import app as customers_app
    from telmark.dbcli import app as db_app
    from telmark.demo import demo_command, serve_command
    from telmark.evaluation.cli import app as evaluation_app
    from telmark.execution.cli import app as execution_app
    from telmark.execution.monitor.cli import app as monitor_app
    from telmark.execution.responses.cli import app as responses_app
    from telmark.execution.tasks.cli import app as tasks_app
    from telmark.execution.triggers.cli import app as triggers_app
    from telmark.market.cli import app as market_app
    from telmark.offers.cli import app as offers_app
    from telmark.org.cli import app as org_app
    from telmark.segments.cli import app as segments_app
    from telmark.targeting.cli import app as targeting_app
    from telmark.warehouse.cli import app as data_app

    app.add_typer(db_app, name="db", help="Operational database (migrations).")
    app.add_typer(data_app, name="data", help="Warehouse data: generate, import, inspect.")
    app.add_typer(org_app, name="org", help="Organisation tree and staff.")
    app.add_typer(analysis_app, name="analysis", help="Marketing analysis: KPIs.")
    app.add_typer(users_app, name="users", help="Users, roles and API tokens.")
    app.add_typer(consent_app, name="consent", help="Consent register: opt-outs, DND, blacklist.")
    app.add_typer(audit_app, name="audit", help="Audit trail: list and export.")
    app.add_typer(customers_app, name="customers", help="Customer 360: one subscriber's view.")
    app.add_typer(market_app, name="market", help="Market inputs: competitor offers and shares.")
    app.add_typer(segments_app, name="segments", help="Segments: rule language, counts.")
    app.add_typer(catalog_app, name="catalog", help="Product catalog: products, price versions.")
    app.add_typer(offers_app, name="offers", help="Offers: the nine marketing tools, stock, draws.")
    app.add_typer(cases_app, name="cases", help="Marketing cases: plan, approve, issue, run.")
    app.add_typer(
        targeting_app, name="targeting", help="Targeting: contact policy, runs, contact lists."
    )
    app.add_typer(tasks_app, name="tasks", help="Front-line tasks: generate, work, report.")
    app.add_typer(
        execution_app, name="execution", help="Execution: outbox load, dispatch, templates."
    )
    app.add_typer(
        triggers_app, name="triggers", help="Real-time triggers: rules, stream consumer, simulator."
    )
    app.add_typer(
        evaluation_app, name="evaluate", help="Evaluation: A/B/n experiment files, sample size."
    )
    app.add_typer(
        monitor_app, name="monitor", help="Execution monitor: progress, alert scan, alert inbox."
    )
    app.add_typer(
        responses_app, name="responses", help="Responses: order events, attribution, simulation."
    )
    app.command("demo")(demo_command)
    app.command("serve")(serve_command)


@app.command()
def version(json_output: JsonOpt = False) -> None:
    """Show the telmark version."""
    if json_output:
        print_json({"version": __version__})
    else:
        console.print(f"telmark {__version__}")


_register()


def main() -> None:
    app()
