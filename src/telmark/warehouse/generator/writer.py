"""Parquet output: contract schemas, one file per table and chunk, atomic publication.

A province is written into a hidden sibling directory and renamed into place
only when complete, so a crash never leaves half a province where a loader
would find it. A directory is only ever replaced if it is empty or was itself
written by this generator (its manifest says so).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from telmark.errors import InvalidInput
from telmark.warehouse.contract import ColType, TableSpec
from telmark.warehouse.generator.arrays import TIMESTAMP

MANIFEST = "manifest.json"
PRODUCER = "telmark-generator"
# zstd level 1 measured fastest-to-write at a size close to level 3 (see
# docs/generator.md); dictionary pages only where values repeat.
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1

_ARROW_TYPES: dict[ColType, pa.DataType] = {
    ColType.STRING: pa.string(),
    ColType.INT: pa.int64(),
    ColType.FLOAT: pa.float64(),
    ColType.BOOL: pa.bool_(),
    ColType.DATE: pa.date32(),
    ColType.TIMESTAMP: TIMESTAMP,
}


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The Arrow schema of a contract table: its columns, in order, with their types."""
    return pa.schema(
        [pa.field(c.name, _ARROW_TYPES[c.type], nullable=not c.required) for c in spec.columns]
    )


def _dictionary_columns(spec: TableSpec) -> list[str]:
    # Repeating codes (statuses, plans, org units, channels) shrink with a
    # dictionary; unique values (ids, names, numbers) only pay for one.
    return [
        c.name
        for c in spec.columns
        if c.type == ColType.STRING
        and not c.personal
        and c.name not in spec.key
        and c.name not in ("name", "household_id", "account_id")
    ]


def write_part(root: Path, spec: TableSpec, columns: dict[str, pa.Array], part: int) -> int:
    """Write one Parquet file ``root/<table>/part-NNNNN.parquet``; returns its row count."""
    table = pa.Table.from_arrays(
        [columns[name] for name in spec.column_names], schema=arrow_schema(spec)
    )
    folder = root / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        folder / f"part-{part:05d}.parquet",
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        use_dictionary=_dictionary_columns(spec),
    )
    return int(table.num_rows)


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("producer") == PRODUCER else None


def check_target(out_dir: Path) -> None:
    """Refuse to replace anything but an empty directory or an earlier generated province."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InvalidInput(
            f"{out_dir} exists and is not a directory",
            details=[{"field": "out_dir", "value": str(out_dir)}],
        )
    if any(out_dir.iterdir()) and read_manifest(out_dir) is None:
        raise InvalidInput(
            f"{out_dir} is not empty and was not written by the generator; "
            "choose another directory or empty it first",
            details=[{"field": "out_dir", "value": str(out_dir), "reason": "not generator output"}],
        )


def staging_dir(out_dir: Path) -> Path:
    """A fresh hidden sibling of ``out_dir`` on the same file system (so rename is atomic)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    path = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    return path


def write_manifest(directory: Path, data: dict[str, Any]) -> None:
    text = json.dumps({"producer": PRODUCER, **data}, ensure_ascii=False, indent=2)
    (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")


def publish(staging: Path, out_dir: Path) -> None:
    """Move the finished province into place, replacing an earlier one."""
    check_target(out_dir)  # the directory may have changed while we were generating
    retired: Path | None = None
    if out_dir.exists():
        retired = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:12]}"
        out_dir.rename(retired)
    staging.rename(out_dir)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
