"""Churn model: train on 1M subscribers in ≤ 3 min, score 10M subscribers in ≤ 2 min.

Both figures include feature extraction from the warehouse (Ibis on DuckDB).
Training is ``service.train_model`` end to end: features of the second-to-last
month, a calibrated gradient-boosting fit on 75% of the lines, holdout AUC,
the tenure-only baseline, lift, calibration, permutation importance, the
joblib file and the registry row. Scoring is ``service.score`` end to end on
the 10M province with the model trained on the 1M one (same generator, same
features): latest-month features streamed in batches through the model,
deciles and bands, and the atomic replacement of ``churn_scores``.

The registry is a throw-away SQLite file; ``churn_scores`` is dropped from the
cached 10M warehouse afterwards so the other benchmarks see it unchanged.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_churn.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402 - the helper module sits beside this script
    Measurement,
    gib,
    machine,
    machine_markdown,
    now_utc,
    province_warehouse,
    stopwatch,
    update_section,
    write_json,
)
from telmark.analysis.churn import service  # noqa: E402
from telmark.analysis.churn.schemas import ChurnModelRead, ScoreRunRead  # noqa: E402
from telmark.models import Base  # noqa: E402
from telmark.uow import UnitOfWork  # noqa: E402
from telmark.warehouse.connection import connect  # noqa: E402
from telmark.warehouse.importer.load import drop  # noqa: E402

TRAIN_TARGET_SECONDS = 180.0
SCORE_TARGET_SECONDS = 120.0


def render_markdown(payload: dict[str, Any]) -> str:
    """The RESULTS.md section for one payload (as saved in results/churn.json)."""
    train, score = payload["train"], payload["score"]
    model = train["model"]
    verdict = {True: "✅", False: "❌"}
    train_ok = verdict[train["median_seconds"] <= TRAIN_TARGET_SECONDS]
    score_ok = verdict[score["median_seconds"] <= SCORE_TARGET_SECONDS]
    lines = [
        f"Run {payload['run_at']} on {machine_markdown(payload['machine'])}.",
        "",
        "`python benchmarks/bench_churn.py` — feature extraction included, median of "
        f"{payload['repeat']} runs each, peak RSS of the process tree.",
        "",
        "| run | lines | wall (median) | target | peak RSS |",
        "|---|---|---|---|---|",
        f"| train (`service.train_model`) | {model['rows']:,} active lines of "
        f"{train['subscribers']:,} | {train['median_seconds']:.1f} s "
        f"| ≤ {TRAIN_TARGET_SECONDS:.0f} s {train_ok}"
        f" | {gib(train['peak_rss_bytes'])} |",
        f"| score (`service.score`) | {score['run']['rows']:,} active lines of "
        f"{score['subscribers']:,} | {score['median_seconds']:.1f} s "
        f"| ≤ {SCORE_TARGET_SECONDS:.0f} s {score_ok}"
        f" | {gib(score['peak_rss_bytes'])} |",
        "",
        f"Training runs: {', '.join(f'{s:.1f} s' for s in train['seconds'])} (last run: "
        f"features {model['seconds']['features']:.1f} s, fit {model['seconds']['fit']:.1f} s, "
        f"evaluation {model['seconds']['evaluation']:.1f} s). Scoring runs: "
        f"{', '.join(f'{s:.1f} s' for s in score['seconds'])}.",
        "",
        f"Model on the 1M province: holdout AUC {model['auc']:.3f} against "
        f"{model['baseline_auc']:.3f} for tenure alone; {model['positives']:,} port-outs among "
        f"{model['rows']:,} lines; top decile lift {model['top_lift']:.2f}.",
        "",
        "Training fits a stratified sample of at most 300,000 training lines (`TRAIN_MAX_ROWS`) "
        "and ranks features on 20,000 holdout lines; the holdout figures use the whole holdout. "
        "Scoring computes the features in slices of 2.5M subscriber ids (`SCORE_SLICE_IDS`): "
        "as one query over 10M lines, DuckDB's joins and aggregations alone peaked at 10.6 GiB "
        "resident (13.1 GiB for the whole process).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-subscribers", type=int, default=1_000_000)
    parser.add_argument("--score-subscribers", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument(
        "--no-results", action="store_true", help="do not touch RESULTS.md / results/"
    )
    args = parser.parse_args(argv)
    info = machine()
    print(f"machine: {machine_markdown(info)}", flush=True)
    train_url = province_warehouse(subscribers=args.train_subscribers)
    score_url = province_warehouse(subscribers=args.score_subscribers)

    with tempfile.TemporaryDirectory(prefix="telmark-bench-churn-") as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'registry.db'}")
        Base.metadata.create_all(engine)
        factory = sessionmaker(engine, expire_on_commit=False)
        models_dir = Path(scratch) / "models"

        training = Measurement()
        model: ChurnModelRead | None = None
        con = connect(train_url)
        try:
            for attempt in range(args.repeat):
                with stopwatch(training), UnitOfWork(factory) as uow:
                    model = service.train_model(uow=uow, con=con, models_dir=models_dir)
                print(
                    f"train #{attempt + 1}: {training.seconds[-1]:.1f} s, peak RSS "
                    f"{gib(training.peak_rss_bytes[-1])}, AUC {model.auc:.3f} "
                    f"(baseline {model.baseline_auc:.3f}), {model.metrics.seconds}",
                    flush=True,
                )
        finally:
            con.disconnect()
        assert model is not None

        scoring = Measurement()
        run: ScoreRunRead | None = None
        con = connect(score_url)
        try:
            for attempt in range(args.repeat):
                with stopwatch(scoring), UnitOfWork(factory) as uow:
                    run = service.score(uow=uow, con=con)
                print(
                    f"score #{attempt + 1}: {scoring.seconds[-1]:.1f} s, peak RSS "
                    f"{gib(scoring.peak_rss_bytes[-1])}, {run.rows:,} lines",
                    flush=True,
                )
            drop(con, service.SCORES_TABLE)
        finally:
            con.disconnect()
        assert run is not None
        engine.dispose()

    payload: dict[str, Any] = {
        "run_at": now_utc(),
        "machine": info,
        "repeat": args.repeat,
        "train": {
            "subscribers": args.train_subscribers,
            "seconds": training.seconds,
            "median_seconds": training.median_seconds,
            "peak_rss_bytes": training.max_peak_rss_bytes,
            "model": {
                "rows": model.rows,
                "positives": model.positives,
                "auc": model.auc,
                "baseline_auc": model.baseline_auc,
                "top_lift": model.metrics.lift[0].lift,
                "seconds": model.metrics.seconds,
            },
        },
        "score": {
            "subscribers": args.score_subscribers,
            "seconds": scoring.seconds,
            "median_seconds": scoring.median_seconds,
            "peak_rss_bytes": scoring.max_peak_rss_bytes,
            "run": run.model_dump(mode="json"),
        },
    }
    if not args.no_results:
        write_json("churn", payload)
        update_section("Churn model", render_markdown(payload))
    print(render_markdown(payload))
    ok = (
        training.median_seconds <= TRAIN_TARGET_SECONDS
        and scoring.median_seconds <= SCORE_TARGET_SECONDS
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
