"""Importing BOSS exports: ``import_table`` for one table, ``load_directory`` for a province.

Both run the same pipeline: find the files, stage CSV as Parquet (streaming,
any encoding), check everything (header, types, required values, ranges,
allowed values, patterns, keys, references), and only if nothing is wrong
replace the warehouse tables atomically (see ``load``). Problems are collected
across all checks and tables, listed in file order up to ``max_errors`` and
counted in full, and raised as one ``ImportRejected``.

The checks run in DuckDB through Ibis: in the warehouse connection itself when
the warehouse is DuckDB (so references join the warehouse tables directly and
the load is one statement per table), else in a private DuckDB next to the
staged files, with the referenced keys copied over from the warehouse.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
from ibis.backends import BaseBackend
from ibis.expr import types as ir

from telmark.config import get_settings
from telmark.errors import InvalidInput
from telmark.warehouse.contract import CONTRACT, TRUTH, TableSpec
from telmark.warehouse.derived import refresh_org_closure
from telmark.warehouse.importer.csv_staging import resolve_encoding, stage_csv
from telmark.warehouse.importer.load import (
    drop,
    duckdb_path,
    is_duckdb,
    replace_tables,
    row_count,
    warehouse_tables,
)
from telmark.warehouse.importer.parquet_staging import stage_parquet
from telmark.warehouse.importer.reading import Progress, Staged, find_inputs, open_staged
from telmark.warehouse.importer.report import HEADER, ImportRejected, ImportReport, Problem
from telmark.warehouse.importer.validate import (
    TARGET_TYPES,
    Prepared,
    count_rows_and_problems,
    dangling_references,
    duplicate_keys,
    list_row_problems,
    prepare,
)

# Contract tables in load order (each after the tables it references), then the truth.
SPECS: dict[str, TableSpec] = {**CONTRACT, **TRUTH}


def spec_of(table: str) -> TableSpec:
    try:
        return SPECS[table]
    except KeyError:
        known = ", ".join(SPECS)
        raise InvalidInput(f"unknown table {table!r}; the contract has: {known}") from None


def import_table(
    *,
    con: BaseBackend,
    table: str,
    path: Path,
    encoding: str = "auto",
    max_errors: int = 100,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate ``path`` against the contract for ``table`` and, if clean, replace the table."""
    spec = spec_of(table)
    reports = _load(
        con=con,
        batch={spec.name: Path(path)},
        source=str(path),
        encoding=encoding,
        max_errors=max_errors,
        progress=progress,
    )
    return reports[0]


def find_tables(
    directory: Path, tables: Sequence[str] | None
) -> tuple[dict[str, Path], list[Problem]]:
    """Each wanted table's input in ``directory`` (``<t>/``, ``<t>.csv`` or ``<t>.parquet``)."""
    if not directory.is_dir():
        raise InvalidInput(f"{directory}: not a directory")
    wanted = [*CONTRACT, *TRUTH] if tables is None else list(tables)
    for name in wanted:
        spec_of(name)
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    for name in SPECS:
        if name not in wanted:
            continue
        candidates = [directory / name, directory / f"{name}.csv", directory / f"{name}.parquet"]
        present = [c for c in candidates if c.exists()]
        if len(present) == 1:
            found[name] = present[0]
        elif present:
            shown = " and ".join(p.name for p in present)
            reason = f"{shown} both exist for table {name}; keep one"
            problems.append(Problem(str(directory), None, None, None, reason))
        elif tables is not None or not (name in TRUTH or SPECS[name].optional):
            reason = f"no input for table {name} (expected {name}/, {name}.csv or {name}.parquet)"
            problems.append(Problem(str(directory), None, None, None, reason))
    return found, problems


def load_directory(
    *,
    con: BaseBackend,
    directory: Path,
    tables: Sequence[str] | None = None,
    encoding: str = "auto",
    max_errors: int = 100,
    progress: Progress | None = None,
) -> list[ImportReport]:
    """Load a province directory (every contract table, the truth if present): all or nothing."""
    directory = Path(directory)
    batch, problems = find_tables(directory, tables)
    if problems:
        raise ImportRejected(source=str(directory), problems=problems, total=len(problems))
    return _load(
        con=con,
        batch=batch,
        source=str(directory),
        encoding=encoding,
        max_errors=max_errors,
        progress=progress,
    )


@dataclass(slots=True)
class _Table:
    spec: TableSpec
    staged: Staged
    prepared: Prepared | None = None
    rows: int = 0
    seconds: float = 0.0


def _work_dir(con: BaseBackend) -> Path:
    # Staged files can be as large as the input: keep them on the warehouse's
    # disk (or in the data dir), not in a possibly small system temp.
    database = duckdb_path(con)
    base = database.parent if database is not None else get_settings().ensure_data_dir()
    return Path(tempfile.mkdtemp(prefix=".telmark-import-", dir=base))


def _load(
    *,
    con: BaseBackend,
    batch: Mapping[str, Path],
    source: str,
    encoding: str,
    max_errors: int,
    progress: Progress | None,
) -> list[ImportReport]:
    if max_errors < 0:
        raise InvalidInput("max_errors must be zero or more")
    if encoding != "auto":
        resolve_encoding(encoding)
    inputs = {name: find_inputs(path) for name, path in batch.items()}
    work_dir = _work_dir(con)
    checker = con if is_duckdb(con) else ibis.duckdb.connect(temp_directory=str(work_dir / "spill"))
    views: list[str] = []
    tables: dict[str, _Table] = {}
    try:
        for name, found in inputs.items():
            started = time.perf_counter()
            spec = spec_of(name)
            if found.format == "csv":
                staged = stage_csv(
                    spec=spec,
                    files=found.files,
                    encoding=encoding,
                    work_dir=work_dir,
                    max_errors=max_errors,
                    progress=progress,
                )
            else:
                staged = stage_parquet(
                    spec=spec,
                    files=found.files,
                    work_dir=work_dir,
                    max_errors=max_errors,
                    progress=progress,
                )
            entry = _Table(spec, staged)
            if staged.checkable:
                view = f"telmark_import_{name}_{uuid.uuid4().hex[:8]}"
                views.append(view)
                rows = open_staged(checker, staged, view)
                entry.prepared = prepare(spec, rows, file=str(found.files[0]))
            entry.seconds = time.perf_counter() - started
            tables[name] = entry
        problems, total = _check(con, checker, tables, max_errors, progress)
        if total:
            files = [str(f) for entry in tables.values() for f in entry.staged.files]
            problems.sort(key=lambda p: _position(p, files))
            raise ImportRejected(source=source, problems=problems[:max_errors], total=total)
        existing = set(warehouse_tables(con))
        previous = {name: row_count(con, name) if name in existing else None for name in tables}
        # An optional table nobody has loaded yet exists empty after any load, so
        # readers (segment conditions on contact history) need no special case.
        empty = [
            spec
            for spec in CONTRACT.values()
            if spec.optional and spec.name not in tables and spec.name not in existing
        ]
        if progress:
            for name in tables:
                progress(f"loading {name}", 0, 1)
        seconds = replace_tables(
            con=con,
            source=checker,
            tables={name: entry.prepared.typed for name, entry in tables.items() if entry.prepared},
            work_dir=work_dir,
            # The org closure is derived from org_units: it changes with it, atomically on DuckDB.
            then=lambda: _after_load(con, org_units="org_units" in tables, empty=empty),
        )
        if progress:
            for name in tables:
                progress(f"loading {name}", 1, 1)
    finally:
        if checker is con:
            for view in views:
                drop(con, view, kind="VIEW")
        else:
            checker.disconnect()
        shutil.rmtree(work_dir, ignore_errors=True)
    return [
        ImportReport(
            table=name,
            source=str(batch[name]),
            files=tuple(str(f) for f in entry.staged.files),
            format=entry.staged.format,
            encoding=entry.staged.encoding,
            rows=entry.rows,
            previous_rows=previous[name],
            seconds=round(entry.seconds + seconds.get(name, 0.0), 3),
        )
        for name, entry in tables.items()
    ]


def _after_load(con: BaseBackend, *, org_units: bool, empty: Sequence[TableSpec]) -> None:
    """Derived tables of the new org tree, and the optional tables still missing, created empty."""
    if org_units:
        refresh_org_closure(con)
    for spec in empty:
        con.create_table(
            spec.name, schema=ibis.schema({c.name: TARGET_TYPES[c.type] for c in spec.columns})
        )


def _position(problem: Problem, files: list[str]) -> tuple[int, int]:
    """Sort key: file in input order, then whole-file and header problems, then rows."""
    file = files.index(problem.file) if problem.file in files else -1
    row = problem.row if isinstance(problem.row, int) else -1
    return file, row


def _check(
    con: BaseBackend,
    checker: BaseBackend,
    tables: Mapping[str, _Table],
    limit: int,
    progress: Progress | None,
) -> tuple[list[Problem], int]:
    """Every problem of every table (each kind listed up to ``limit``) and their total."""
    problems: list[Problem] = []
    total = 0
    in_warehouse: set[str] | None = None
    for name, entry in tables.items():
        problems += entry.staged.problems
        total += entry.staged.problem_count
        prepared = entry.prepared
        if prepared is None:
            continue
        started = time.perf_counter()
        references = prepared.spec.references
        steps = 2 + len(references)
        label = f"checking {name}"
        if progress:
            progress(label, 0, steps)
        problems += prepared.problems
        total += len(prepared.problems)
        entry.rows, counts = count_rows_and_problems(prepared)
        total += sum(counts)
        problems += list_row_problems(prepared, counts, limit)
        if progress:
            progress(label, 1, steps)
        count, found = duplicate_keys(prepared, limit)
        total += count
        problems += found
        if progress:
            progress(label, 2, steps)
        for step, (ref, ref_table, ref_column) in enumerate(references, start=3):
            column = ref.name
            if column in prepared.parsed:
                if ref_table not in tables and in_warehouse is None:
                    in_warehouse = set(warehouse_tables(con))
                target = _target(con, checker, tables, in_warehouse or set(), ref_table, ref_column)
                if isinstance(target, str):
                    problems.append(
                        Problem(str(entry.staged.files[0]), HEADER, column, None, target)
                    )
                    total += 1
                elif target is not None:
                    where, keys = target
                    count, found = dangling_references(prepared, column, keys, where, limit)
                    total += count
                    problems += found
            if progress:
                progress(label, step, steps)
        entry.seconds += time.perf_counter() - started
    return problems, total


def _target(
    con: BaseBackend,
    checker: BaseBackend,
    tables: Mapping[str, _Table],
    in_warehouse: set[str],
    ref_table: str,
    ref_column: str,
) -> tuple[str, ir.Table] | str | None:
    """Where a reference must resolve: the batch, the warehouse, or why it cannot be checked.

    Returns (description, table with one column ``__ref``), a problem reason,
    or None when the batch's own table is already rejected for other reasons.
    """
    if ref_table in tables:
        prepared = tables[ref_table].prepared
        if prepared is None or ref_column not in prepared.parsed:
            return None
        where = f"{ref_table}.{ref_column} of the files being loaded"
        return where, prepared.keys(ref_column).view()
    if ref_table not in in_warehouse:
        return (
            f"refers to {ref_table}.{ref_column}, but the warehouse has no table {ref_table}; "
            f"load {ref_table} first"
        )
    warehouse = con.table(ref_table)
    if ref_column not in warehouse.columns:
        return f"refers to {ref_table}.{ref_column}, but the warehouse table has no such column"
    key_type = TARGET_TYPES[spec_of(ref_table).column(ref_column).type]
    keys = warehouse.select(__ref=warehouse[ref_column].cast(key_type))
    where = f"{ref_table}.{ref_column} in the warehouse"
    if checker is con:
        return where, keys
    # The checks run in a private DuckDB: copy the (distinct) keys over.
    view = f"telmark_keys_{ref_table}_{ref_column}_{uuid.uuid4().hex[:8]}"
    checker.con.register(view, keys.distinct().to_pyarrow())
    return where, checker.table(view)
