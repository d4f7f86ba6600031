"""JSON routes of evaluation: an uploaded A/B/n experiment file, and the power calculator."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from telmark.auth.deps import require
from telmark.auth.permissions import Action
from telmark.errors import InvalidInput
from telmark.evaluation import service
from telmark.evaluation.schemas import (
    DetectableRead,
    DetectableRequest,
    ExperimentRead,
    SampleSizeRead,
    SampleSizeRequest,
)
from telmark.web.errors import ErrorRead

router = APIRouter(
    prefix="/api/evaluation",
    tags=["evaluation"],
    dependencies=[require(Action.EVALUATION_READ)],
)

# The file is streamed to disk and scanned by DuckDB (only per-arm totals reach memory), so
# the cap bounds disk and request time rather than memory: ~10M customers as CSV.
MAX_UPLOAD_BYTES = 512 << 20
CHUNK_BYTES = 1 << 20
UPLOAD_SUFFIXES = (".csv", ".parquet", ".pq")

_INVALID: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorRead,
        "description": "A bad file (each problem with its row and column) or parameter.",
    }
}


def upload_name(file: UploadFile) -> str:
    """The uploaded file's own name, without any directory a client may have sent."""
    return Path(file.filename or "upload.csv").name or "upload.csv"


def save_upload(file: UploadFile, directory: Path) -> Path:
    """Copy the upload into ``directory`` in chunks; InvalidInput beyond ``MAX_UPLOAD_BYTES``.

    The copy gets a fixed name (the client's name is only shown in messages, never used as a
    path) and keeps a recognised suffix so Parquet is known by name as well as content.
    """
    suffix = Path(upload_name(file)).suffix.lower()
    target = directory / ("upload" + (suffix if suffix in UPLOAD_SUFFIXES else ""))
    written = 0
    with target.open("wb") as out:
        while chunk := file.file.read(CHUNK_BYTES):
            written += len(chunk)
            if written > MAX_UPLOAD_BYTES:
                raise InvalidInput(
                    f"{upload_name(file)}: larger than {MAX_UPLOAD_BYTES >> 20} MB; "
                    "evaluate it on the server with `telmark evaluate file`"
                )
            out.write(chunk)
    return target


def evaluate_upload(
    file: UploadFile, *, arm: str, control: str, outcomes: list[str], value: str | None
) -> ExperimentRead:
    """Evaluate an uploaded file; the copy is deleted whatever happens."""
    with tempfile.TemporaryDirectory(prefix="telmark-upload-") as directory:
        path = save_upload(file, Path(directory))
        return service.evaluate_file(
            path=path,
            arm=arm,
            control=control,
            outcomes=outcomes,
            value=value,
            source=upload_name(file),
        )


@router.post(
    "/experiments",
    response_model=ExperimentRead,
    responses=_INVALID,
    dependencies=[require(Action.EVALUATION_RUN)],
)
def evaluate_experiment(
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8 or GBK) or Parquet, one row per customer.")
    ],
    arm: Annotated[str, Form(description="Column holding each customer's arm.")],
    control: Annotated[str, Form(description="The control arm's label.")],
    outcome: Annotated[
        list[str],
        Form(
            description="Outcome column(s), repeatable: 1/true/t/yes/y/是 or "
            "0/false/f/no/n/否; blank = unknown (excluded and counted)."
        ),
    ],
    value: Annotated[str | None, Form(description="Numeric value column, blanks allowed.")] = None,
) -> ExperimentRead:
    """Every treatment arm of an A/B/n test against the control: rates, uplift, tests, value.

    Reads only the uploaded file (nothing stored is read or written) and returns aggregates.
    """
    # A sync route: FastAPI runs it on the thread pool, so the scan does not block the loop.
    return evaluate_upload(file, arm=arm, control=control, outcomes=outcome, value=value)


@router.post("/detectable-uplift", response_model=DetectableRead, responses=_INVALID)
def detectable_uplift(body: DetectableRequest) -> DetectableRead:
    """The smallest uplift arms of these sizes detect at the base rate (two-sided test)."""
    return service.detectable_uplift(request=body)


@router.post("/sample-size", response_model=SampleSizeRead, responses=_INVALID)
def sample_size(body: SampleSizeRequest) -> SampleSizeRead:
    """Customers per arm needed to detect an uplift at the base rate."""
    return service.sample_size(request=body)
