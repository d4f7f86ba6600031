"""``telmark analysis uplift ...``: train, score, list and show uplift models.

The CLI acts with server rights as the operating-system user (``cli:<name>``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from telmark.analysis.uplift import service
from telmark.analysis.uplift.features import labelled_from_cases, labelled_from_file
from telmark.analysis.uplift.schemas import CurvePoint, UpliftModelRead
from telmark.clikit import JsonOpt, command_uow, command_warehouse, console, print_json, print_table
from telmark.config import get_settings
from telmark.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)

VersionArg = Annotated[int, typer.Argument(min=1, help="Model version.")]
CHART_WIDTH = 50
CHART_SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def qini_chart(points: list[CurvePoint]) -> list[str]:
    """The Qini curve as text bars: incremental responders by share targeted (``|`` = random)."""
    by_share = {round(p.share, 2): p for p in points}
    shown = [by_share[s] for s in CHART_SHARES if s in by_share]
    top = max((max(p.model, p.random) for p in shown), default=0.0)
    scale = CHART_WIDTH / top if top > 0 else 0.0
    lines = []
    for p in shown:
        cells = [" "] * (CHART_WIDTH + 1)
        for i in range(max(0, min(CHART_WIDTH, round(p.model * scale)))):
            cells[i] = "█"
        cells[max(0, min(CHART_WIDTH, round(p.random * scale)))] = "|"
        lines.append(f"{p.share:>4.0%} {''.join(cells)} {p.model:8.1f}  random {p.random:8.1f}")
    return lines


def print_model(model: UpliftModelRead) -> None:
    source = (
        "cases " + ", ".join(str(c) for c in model.case_ids)
        if model.source == "cases"
        else f"file {model.source_file}"
    )
    console.print(
        f"Uplift model v{model.version} ({model.status}), trained {model.trained_at:%Y-%m-%d %H:%M}"
        f" UTC by {model.trained_by} from {source} (seed {model.seed})"
    )
    m = model.metrics
    console.print(
        f"Features of {model.feature_month:%Y-%m}: {model.rows:,} lines, {model.treated:,} "
        f"treated, {model.responders:,} responded; holdout {m.holdout_rows:,} lines "
        f"({m.holdout_treated:,} treated)."
    )
    console.print(
        f"Holdout response rate: treatment {m.treated_rate:.2%}, control {m.control_rate:.2%}, "
        f"uplift {m.overall_uplift * 100:+.2f} points (what random targeting achieves)."
    )
    console.print(
        f"Qini coefficient {model.qini:.3f}, AUUC {model.auuc:.3f} (random targeting ≈ 0, "
        "perfect ranking 1)"
    )
    print_table(
        "Uplift at k (holdout, highest predicted uplift first)",
        ("top k", "lines", "treated rate", "control rate", "uplift", "random targeting"),
        [
            [
                f"{k.k:.0%}", f"{k.rows:,}", f"{k.treated_rate:.2%}", f"{k.control_rate:.2%}",
                f"{k.uplift * 100:+.2f} pts", f"{k.random * 100:+.2f} pts",
            ]
            for k in m.uplift_at_k
        ],
    )  # fmt: skip
    console.print("Qini curve: incremental responders by share of holdout lines targeted")
    for line in qini_chart(m.qini_curve):
        console.print(line, markup=False, highlight=False)


def _month(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise InvalidInput(
            f"--feature-month must be YYYY-MM, not {value!r}",
            details=[{"field": "feature_month"}],
        ) from None


@app.command("train")
def train_command(
    case_ids: Annotated[
        list[int] | None,
        typer.Option("--case-id", min=1, help="A finished case to learn from (repeatable)."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="CSV/Parquet of subscriber_id, treated (0/1), outcome (0/1) instead of cases.",
        ),
    ] = None,
    feature_month: Annotated[
        str | None,
        typer.Option(
            help="With --file: the month (YYYY-MM) of the features, before the treatment "
            "(default: the latest)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split and the models.")] = 0,
    json_output: JsonOpt = False,
) -> None:
    """Train a new uplift model version on finished cases (or a labelled file)."""
    settings = get_settings()
    with command_warehouse(settings=settings) as con, command_uow() as uow:
        if (file is None) == (not case_ids):
            raise InvalidInput(
                "give either --case-id (one or more) or --file", details=[{"field": "case_ids"}]
            )
        service.require_province(uow)
        if file is not None:
            labelled = labelled_from_file(
                file.read_bytes(), filename=file.name, feature_month=_month(feature_month)
            )
        else:
            labelled = labelled_from_cases(uow=uow, case_ids=list(case_ids or []), con=con)
        model = service.train_model(
            uow=uow,
            con=con,
            models_dir=service.models_dir(settings.data_dir),
            labelled=labelled,
            seed=seed,
        )
    if json_output:
        print_json(model)
    else:
        print_model(model)


@app.command("score")
def score_command(
    version: Annotated[int, typer.Option("--model", min=1, help="Model version to score with.")],
    json_output: JsonOpt = False,
) -> None:
    """Score every line active at the end of the latest month into uplift_scores."""
    with command_warehouse() as con, command_uow() as uow:
        run = service.score(uow=uow, con=con, version=version)
    if json_output:
        print_json(run)
        return
    console.print(
        f"Scored {run.rows:,} lines with uplift model v{run.model_version} (features of "
        f"{run.feature_month:%Y-%m}) in {run.seconds:.1f} s; mean predicted uplift "
        f"{run.mean_uplift * 100:+.2f} points, {run.positive_share:.1%} of lines positive. "
        f"Written to {service.SCORES_TABLE}."
    )


@app.command("models")
def models_command(json_output: JsonOpt = False) -> None:
    """List every uplift model version, newest first."""
    with command_uow() as uow:
        models = service.list_models(uow=uow)
    if json_output:
        print_json(models)
        return
    print_table(
        f"{len(models)} uplift model versions",
        ("version", "status", "trained", "source", "lines", "Qini", "AUUC"),
        [
            [
                m.version, m.status, f"{m.trained_at:%Y-%m-%d %H:%M}",
                "cases " + ",".join(map(str, m.case_ids)) if m.source == "cases" else "file",
                f"{m.rows:,}", f"{m.qini:.3f}", f"{m.auuc:.3f}",
            ]
            for m in models
        ],
    )  # fmt: skip


@app.command("show")
def show_command(version: VersionArg, json_output: JsonOpt = False) -> None:
    """One version's holdout figures: Qini, AUUC, uplift@k and the Qini curve."""
    with command_uow() as uow:
        model = service.get_model(uow=uow, version=version)
    if json_output:
        print_json(model)
    else:
        print_model(model)
