"""Model files of the analysis registries (churn, uplift): written atomically, read checked.

A model is a joblib payload (the fitted estimators and the feature list they were trained
on) in the models directory, named ``<kind>-<version>.joblib``; its SHA-256 is recorded in
the registry row. Reading checks the SHA-256 first (a file changed since training is
refused) and then the feature list (a model trained on other features than this version of
telmark computes must be retrained, not silently misapplied).
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]

from telmark.analysis.churn.domain import check_artifact, sha256_of
from telmark.errors import InvalidInput


def write_artifact(
    directory: Path, kind: str, version: int, payload: dict[str, Any]
) -> tuple[Path, str]:
    """Write ``payload`` as model ``kind`` ``version``; its path and SHA-256."""
    buffer = io.BytesIO()
    joblib.dump(payload, buffer)
    data = buffer.getvalue()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{version}.joblib"
    # Written beside and renamed: a crash never leaves half a model under the final name.
    partial = path.with_suffix(f".{uuid.uuid4().hex[:8]}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
    return path, sha256_of(data)


def read_artifact(
    *, path: Path, sha256: str, kind: str, version: int, features: Sequence[str]
) -> dict[str, Any]:
    """The payload of model ``kind`` ``version`` at ``path``, checked (module docstring)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(
            f"model file {path} of {kind} model version {version} cannot be read ({error})",
            details=[{"file": str(path), "reason": "unreadable"}],
        ) from None
    check_artifact(data=data, expected_sha256=sha256, path=str(path))
    payload: dict[str, Any] = joblib.load(io.BytesIO(data))
    if payload.get("features") != list(features):
        raise InvalidInput(
            f"model file {path} was trained on other features than this version of telmark "
            "computes; retrain the model"
        )
    return payload
