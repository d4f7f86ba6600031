"""Staging Parquet: schema checks per part, and parsing of columns that hold text.

Typed parts are read in place by the checks. Parts holding a number, date or
flag as text are streamed through the same parser as CSV, so every input
format accepts the same spellings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from telmark.warehouse.contract import TableSpec
from telmark.warehouse.importer.reading import (
    DUCKDB_FILE_COLUMNS,
    Converter,
    Progress,
    Staged,
    header_problems,
    staged_writer,
)
from telmark.warehouse.importer.report import HEADER, Problem


def stage_parquet(
    *,
    spec: TableSpec,
    files: Sequence[Path],
    work_dir: Path,
    max_errors: int,
    progress: Progress | None,
) -> Staged:
    """Check each Parquet part's schema; stage the rows only if text must be parsed.

    Typed parts are read in place by the checks. Parts holding a number, date
    or flag as text are streamed through the same parser as CSV, so every
    input format accepts the same spellings.
    """
    staged = Staged(format="parquet", files=tuple(files), paths=tuple(str(p) for p in files))
    staged.in_place = True
    first_type: dict[str, tuple[pa.DataType, Path]] = {}
    names_by_file: list[list[str]] = []
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as error:
            reason = f"cannot be read as Parquet: {error}"
            staged.add(Problem(str(path), None, None, None, reason), limit=max_errors)
            staged.checkable = False
            continue
        names = list(schema.names)
        names_by_file.append(names)
        for problem in header_problems(spec, names, str(path)):
            staged.add(problem, limit=max_errors)
        if len(set(names)) != len(names) or set(names) & set(DUCKDB_FILE_COLUMNS):
            staged.checkable = False
        for name in names:
            if name not in spec.column_index:
                continue
            arrow_type = schema.field(name).type
            seen = first_type.setdefault(name, (arrow_type, path))
            if not seen[0].equals(arrow_type):
                reason = f"has type {arrow_type} here but {seen[0]} in {seen[1]}"
                staged.add(Problem(str(path), HEADER, name, None, reason), limit=max_errors)
                staged.checkable = False
    staged.columns = tuple(c for c in spec.column_names if c in first_type)
    staged.uniform = all(names == names_by_file[0] for names in names_by_file)
    converter = Converter(spec, {c: first_type[c][0] for c in staged.columns}, trim=False)
    if not staged.checkable or not any(converter.parsed(c) for c in staged.columns):
        return staged

    staged.in_place = False
    staged.uniform = True  # staged files all have the converter's schema
    total = sum(pq.read_metadata(path).num_rows for path in files)
    done = 0
    paths: list[str] = []
    for index, (path, names) in enumerate(zip(files, names_by_file, strict=True)):
        out = work_dir / f"{spec.name}-{index:05d}.parquet"
        present = [c for c in staged.columns if c in names]
        label = pa.scalar(str(path))
        next_row = 1
        with staged_writer(out, converter.schema) as writer:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=1 << 17, columns=present):
                columns = {c: batch.column(c) for c in present}
                writer.write_batch(converter.convert(columns, batch.num_rows, label, next_row))
                next_row += batch.num_rows
                done += batch.num_rows
                if progress:
                    progress(f"reading {spec.name}", done, total)
        paths.append(str(out))
    staged.paths = tuple(paths)
    return staged
