"""``telmark analysis churn ...``: train, score, list, show and activate churn models.

The CLI acts with server rights as the operating-system user (``cli:<name>``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from telmark.analysis.churn import service
from telmark.analysis.churn.schemas import ChurnModelRead
from telmark.clikit import JsonOpt, command_uow, command_warehouse, console, print_json, print_table
from telmark.config import get_settings

app = typer.Typer(no_args_is_help=True)

VersionArg = Annotated[int, typer.Argument(min=1, help="Model version.")]


def print_model(model: ChurnModelRead) -> None:
    console.print(
        f"Churn model v{model.version} ({model.status}), trained {model.trained_at:%Y-%m-%d %H:%M} "
        f"UTC by {model.trained_by}"
    )
    metrics = model.metrics
    console.print(
        f"Features of {model.feature_month:%Y-%m}, port-outs in {model.label_month:%Y-%m}: "
        f"{model.rows:,} lines, {model.positives:,} ported out; holdout {metrics.holdout_rows:,} "
        f"lines ({metrics.holdout_positives:,} ported out); {model.calibration_method} calibration."
    )
    console.print(f"Holdout AUC {model.auc:.3f} (tenure-only baseline {model.baseline_auc:.3f})")
    print_table(
        "Lift and gain by decile (holdout, highest risk first)",
        ("decile", "lines", "ported", "rate", "lift", "cumulative gain"),
        [
            [
                d.decile, d.rows, d.positives, f"{d.positive_rate:.2%}", f"{d.lift:.2f}",
                f"{d.cumulative_gain:.1%}",
            ]
            for d in metrics.lift
        ],
    )  # fmt: skip
    print_table(
        "Calibration by decile of predictions (lowest first)",
        ("decile", "lines", "mean predicted", "observed"),
        [
            [c.decile, c.rows, f"{c.mean_predicted:.2%}", f"{c.observed_rate:.2%}"]
            for c in metrics.calibration
        ],
    )
    print_table(
        "Feature importance (drop in holdout AUC when shuffled)",
        ("feature", "importance", "std"),
        [[f.feature, f"{f.importance:.4f}", f"{f.std:.4f}"] for f in metrics.importance[:12]],
    )


@app.command("train")
def train_command(
    seed: Annotated[int, typer.Option(help="Seed of the holdout split and the model.")] = 0,
    json_output: JsonOpt = False,
) -> None:
    """Train a new version on the second-to-last month and make it the active model."""
    settings = get_settings()
    with command_warehouse(settings=settings) as con, command_uow() as uow:
        model = service.train_model(
            uow=uow, con=con, models_dir=service.models_dir(settings.data_dir), seed=seed
        )
    if json_output:
        print_json(model)
    else:
        print_model(model)


@app.command("score")
def score_command(
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Model version (default: the active).")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Score every line active at the end of the latest month into the churn_scores table."""
    with command_warehouse() as con, command_uow() as uow:
        run = service.score(uow=uow, con=con, version=version)
    if json_output:
        print_json(run)
        return
    console.print(
        f"Scored {run.rows:,} lines with model v{run.model_version} (features of "
        f"{run.feature_month:%Y-%m}) in {run.seconds:.1f} s; mean probability "
        f"{run.mean_probability:.2%}; high {run.bands['high']:,}, medium "
        f"{run.bands['medium']:,}, low {run.bands['low']:,}. Written to {service.SCORES_TABLE}."
    )


@app.command("models")
def models_command(json_output: JsonOpt = False) -> None:
    """List every model version, newest first."""
    with command_uow() as uow:
        models = service.list_models(uow=uow)
    if json_output:
        print_json(models)
        return
    print_table(
        f"{len(models)} churn model versions",
        ("version", "status", "trained", "by", "feature month", "lines", "AUC", "baseline"),
        [
            [
                m.version, m.status, f"{m.trained_at:%Y-%m-%d %H:%M}", m.trained_by,
                f"{m.feature_month:%Y-%m}", f"{m.rows:,}", f"{m.auc:.3f}", f"{m.baseline_auc:.3f}",
            ]
            for m in models
        ],
    )  # fmt: skip


@app.command("show")
def show_command(version: VersionArg, json_output: JsonOpt = False) -> None:
    """One version's holdout metrics: AUC, baseline, lift, calibration, importance."""
    with command_uow() as uow:
        model = service.get_model(uow=uow, version=version)
    if json_output:
        print_json(model)
    else:
        print_model(model)


@app.command("activate")
def activate_command(version: VersionArg, json_output: JsonOpt = False) -> None:
    """Make a retired version the active model (the active one is retired)."""
    with command_uow() as uow:
        model = service.activate(uow=uow, version=version)
    if json_output:
        print_json(model)
    else:
        console.print(f"Churn model v{model.version} is now the active model.")
