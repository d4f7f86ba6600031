"""Evaluation use cases: an A/B/n experiment file, and the sample-size calculator.

Nothing here is stored: an experiment file is the caller's own data, evaluated and
returned (as the propensity and CLV fits of uploaded files are), so there is no unit of
work. The file's rows never leave the DuckDB scan; only per-arm aggregates come back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from telmark.evaluation import domain, power
from telmark.evaluation.experiment import count_arms
from telmark.evaluation.schemas import (
    DetectableRead,
    DetectableRequest,
    ExperimentRead,
    SampleSizeRead,
    SampleSizeRequest,
)


def evaluate_file(
    *,
    path: Path,
    arm: str,
    control: str,
    outcomes: list[str],
    value: str | None = None,
    source: str | None = None,
) -> ExperimentRead:
    """Each treatment arm of the file at ``path`` against ``control``, per outcome and value.

    ``source`` names the file in messages (an upload's original name); the path by default.
    """
    spec = domain.ExperimentSpec(
        arm=arm.strip(),
        control=control.strip(),
        outcomes=tuple(o.strip() for o in outcomes),
        value=value.strip() if value and value.strip() else None,
    )
    name = source or str(path)
    # A CSV is staged as Parquet beside the scan; the directory goes when the scan is done.
    with tempfile.TemporaryDirectory(prefix="telmark-evaluation-") as work:
        counts = count_arms(path, spec=spec, source=name, work_dir=Path(work))
    evaluation = domain.evaluate(counts, spec=spec, source=name)
    return ExperimentRead.model_validate({**_fields(evaluation), "file": name})


def _fields(evaluation: domain.Evaluation) -> dict[str, object]:
    return {name: getattr(evaluation, name) for name in domain.Evaluation.__dataclass_fields__}


def detectable_uplift(*, request: DetectableRequest) -> DetectableRead:
    """The smallest uplift arms of these sizes detect at the base rate."""
    found = power.detectable_uplift(
        base_rate=request.base_rate,
        n_treatment=request.n_treatment,
        n_control=request.n_control,
        alpha=request.alpha,
        power=request.power,
    )
    return DetectableRead(**request.model_dump(), detectable_uplift=found)


def sample_size(*, request: SampleSizeRequest) -> SampleSizeRead:
    """The customers each arm needs to detect the uplift at the base rate."""
    n_treatment, n_control = power.sample_size(
        base_rate=request.base_rate,
        uplift=request.uplift,
        ratio=request.ratio,
        alpha=request.alpha,
        power=request.power,
    )
    return SampleSizeRead(**request.model_dump(), n_treatment=n_treatment, n_control=n_control)
