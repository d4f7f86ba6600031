"""``telmark analysis propensity train``: fit a propensity model on a labelled CSV/Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from telmark.analysis.propensity.files import read_table, write_scores
from telmark.analysis.propensity.schemas import PropensityReport
from telmark.analysis.propensity.service import train_propensity
from telmark.clikit import JsonOpt, console, fail, print_json, print_table
from telmark.errors import DomainError

app = typer.Typer(no_args_is_help=True)


def print_report(report: PropensityReport) -> None:
    console.print(
        f"{report.rows:,} rows ({report.labelled_rows:,} labelled, {report.positives:,} "
        f"positive); trained on {report.train_rows:,}, held out {report.holdout_rows:,} "
        f"({report.holdout_positives:,} positive); {report.calibration} calibration."
    )
    baseline = report.baseline_feature or "a constant"
    console.print(
        f"Holdout AUC {report.auc:.3f} (baseline {report.baseline_auc:.3f}: {baseline} alone)"
    )
    print_table(
        "Lift by decile (holdout, highest scores first)",
        ("decile", "rows", "positives", "rate", "lift", "cumulative gain", "scores"),
        [
            [
                d.decile,
                d.rows,
                d.positives,
                f"{d.positive_rate:.1%}",
                f"{d.lift:.2f}",
                f"{d.cumulative_gain:.1%}",
                f"{d.min_score:.3f}-{d.max_score:.3f}",
            ]
            for d in report.lift
        ],
    )
    print_table(
        "Top features (drop in holdout AUC when shuffled)",
        ("feature", "importance", "std"),
        [[f.feature, f"{f.importance:.4f}", f"{f.std:.4f}"] for f in report.top_features],
    )
    unused = [f for f in report.features if f.kind == "dropped"]
    for feature in unused:
        console.print(f"Not used: {feature.column} ({feature.note})")


@app.command("train")
def train_command(
    data: Annotated[
        Path,
        typer.Option(
            "--data", exists=True, dir_okay=False, help="CSV (UTF-8 or GBK) or Parquet file."
        ),
    ],
    label: Annotated[
        str, typer.Option("--label", help="Binary label column (1/0, yes/no, 是/否).")
    ],
    id_column: Annotated[str, typer.Option("--id", help="Column identifying each row.")],
    holdout: Annotated[
        float, typer.Option("--holdout", min=0.05, max=0.5, help="Share of rows held out.")
    ] = 0.25,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the model.")] = 0,
    scores_out: Annotated[
        Path | None,
        typer.Option("--scores-out", dir_okay=False, help="Write id,score (.csv or .parquet)."),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Train a calibrated propensity model; report holdout AUC, lift and top features.

    --json prints the report without the per-row scores; use --scores-out for those.
    """
    try:
        frame = read_table(data.read_bytes(), filename=data.name)
        report = train_propensity(
            data=frame, label=label, id_column=id_column, holdout=holdout, seed=seed
        )
    except DomainError as error:
        raise fail(error) from error
    if scores_out is not None:
        write_scores(report, scores_out)
    if json_output:
        print_json(report.model_dump(mode="json", exclude={"scores"}))
    else:
        print_report(report)
        if scores_out is not None:
            console.print(f"Wrote {len(report.scores):,} scores to {scores_out}")
