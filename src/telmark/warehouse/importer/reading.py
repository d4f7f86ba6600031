"""Reading BOSS exports: finding the files, checking headers, the staged form of the rows.

Every input is brought to one shape before it is checked: Parquet with the
contract columns in their contract types, ``__bad__<column>`` text where a
value did not parse, and the source file and record number of each row
(``__file``, ``__row``), so that every problem can name its row. CSV is staged
so by ``csv_staging`` (streaming, any encoding) and Parquet with text columns
by ``parquet_staging``; typed Parquet is read in place, DuckDB supplying the
file name and row number itself.

Why parse while staging rather than in DuckDB: pyarrow's casts take the clean
majority of values in one vectorised call, where the equivalent SQL (trim,
regular expression, TRY_CAST per column) made the checks several times slower.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from ibis import _
from ibis.backends import BaseBackend
from ibis.expr import types as ir

from telmark.errors import InvalidInput
from telmark.warehouse.contract import ColType, TableSpec
from telmark.warehouse.importer.parsing import ARROW_TYPES, parse_text
from telmark.warehouse.importer.report import HEADER, Problem

Progress = Callable[[str, int, int], None]

FILE_COL = "__file"
ROW_COL = "__row"
BAD = "__bad__"  # prefix of the column holding text that did not parse
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
# DuckDB adds these when reading Parquet with file names and row numbers.
DUCKDB_FILE_COLUMNS = ("filename", "file_row_number")


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files behind one table: a single file or the parts in a directory."""

    format: str  # "csv" or "parquet"
    files: tuple[Path, ...]


@dataclass(slots=True)
class Staged:
    """One table's input, ready for the checks: where to read it and what is wrong so far."""

    format: str
    files: tuple[Path, ...]
    paths: tuple[str, ...] = ()  # Parquet files for the checks (staged CSV or the inputs)
    columns: tuple[str, ...] = ()  # contract columns present in at least one file
    encoding: str | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    checkable: bool = True  # false when rows cannot be read reliably (encoding, shape)
    in_place: bool = False  # Parquet read as it is, not staged
    uniform: bool = True  # every file has the same columns (else DuckDB unions them by name)

    def add(self, problem: Problem, *, limit: int) -> None:
        self.problem_count += 1
        if len(self.problems) < limit:
            self.problems.append(problem)


def _visible(path: Path) -> bool:
    # Spark and Hive leave _SUCCESS, _committed_* and .crc files beside the parts.
    return not path.name.startswith((".", "_"))


def find_inputs(path: Path) -> Inputs:
    """The CSV or Parquet files at ``path`` (a file, or a directory of parts)."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in CSV_SUFFIXES:
            return Inputs("csv", (path,))
        if suffix in PARQUET_SUFFIXES:
            return Inputs("parquet", (path,))
        raise InvalidInput(f"{path}: not a .csv or .parquet file")
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.is_file() and _visible(p)]
        csv = tuple(p for p in files if p.suffix.lower() in CSV_SUFFIXES)
        parquet = tuple(p for p in files if p.suffix.lower() in PARQUET_SUFFIXES)
        if csv and parquet:
            raise InvalidInput(f"{path}: mixes .csv and .parquet files; use one format per table")
        if parquet:
            return Inputs("parquet", parquet)
        if csv:
            return Inputs("csv", csv)
        raise InvalidInput(f"{path}: no .csv or .parquet files in the directory")
    raise InvalidInput(f"{path}: no such file or directory")


def header_problems(spec: TableSpec, names: Sequence[str], file: str) -> list[Problem]:
    """Duplicated, missing (required) and unknown columns of one file's header."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(Problem(file, HEADER, name, None, "column appears more than once"))
        seen.add(name)
    by_folded = {c.name.casefold(): c.name for c in spec.columns}
    for position, name in enumerate(names, start=1):
        if name in spec.column_index:
            continue
        if not name.strip():
            reason = f"column {position} has no name (a stray delimiter at the end of the header?)"
        elif (hint := by_folded.get(name.strip().casefold())) is not None:
            reason = f"unknown column; did you mean {hint!r}?"
        else:
            reason = f"unknown column; {spec.name} has: {', '.join(spec.column_names)}"
        problems.append(Problem(file, HEADER, name, None, reason))
    for column in spec.columns:
        if column.required and column.name not in seen:
            problems.append(Problem(file, HEADER, column.name, None, "required column is missing"))
    return problems


@dataclass(frozen=True, slots=True)
class Converter:
    """Turns input batches into staged batches: text parsed to contract types, plus file and row.

    ``native`` is each staged column's type in the input. Text columns whose
    contract type is not text are parsed, and get a ``__bad__<column>`` text
    column holding what did not parse; every other column passes unchanged
    (typed Parquet columns are converted later, by the checks).
    """

    spec: TableSpec
    native: dict[str, pa.DataType]
    trim: bool = True  # CSV text columns are trimmed (empty = null); Parquet text is kept

    def parsed(self, name: str) -> bool:
        native = self.native[name]
        text = pa.types.is_string(native) or pa.types.is_large_string(native)
        return text and (self.trim or self.spec.column(name).type is not ColType.STRING)

    @property
    def schema(self) -> pa.Schema:
        fields: list[tuple[str, pa.DataType]] = []
        for name, native in self.native.items():
            if not self.parsed(name):
                fields.append((name, native))
                continue
            target = self.spec.column(name).type
            fields.append((name, ARROW_TYPES[target]))
            if target is not ColType.STRING:
                fields.append((BAD + name, pa.string()))
        return pa.schema([*fields, (FILE_COL, pa.string()), (ROW_COL, pa.int64())])

    def convert(
        self, columns: dict[str, pa.Array], rows: int, file: pa.Scalar, first_row: int
    ) -> pa.RecordBatch:
        arrays: list[pa.Array] = []
        for name, native in self.native.items():
            values = columns.get(name)
            if not self.parsed(name):
                arrays.append(values if values is not None else pa.nulls(rows, native))
                continue
            target = self.spec.column(name).type
            if values is None:
                parsed, bad = pa.nulls(rows, ARROW_TYPES[target]), None
            else:
                parsed, bad = parse_text(values.cast(pa.string()), target)
            arrays.append(parsed)
            if target is not ColType.STRING:
                arrays.append(bad if bad is not None else pa.nulls(rows, pa.string()))
        arrays.append(pa.repeat(file, rows))
        arrays.append(pa.array(np.arange(first_row, first_row + rows, dtype=np.int64)))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def staged_writer(out: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A writer for a staged file of ``schema``."""
    # Uncompressed, without dictionaries or statistics: the staged file is
    # read once or twice and deleted, so writing it fast is what counts.
    return pq.ParquetWriter(
        out, schema, compression="none", use_dictionary=[FILE_COL], write_statistics=False
    )


def open_staged(con: BaseBackend, staged: Staged, view_name: str) -> ir.Table:
    """A table over the staged rows: ``__file``, ``__row``, contract and ``__bad__`` columns."""
    if not staged.in_place:
        # Staged files share one schema: no union_by_name, which doubles scan times.
        table = con.read_parquet(list(staged.paths), table_name=view_name)
        return table.select(
            FILE_COL, ROW_COL, *(c for c in table.columns if c not in (FILE_COL, ROW_COL))
        )
    table = con.read_parquet(
        list(staged.paths),
        table_name=view_name,
        union_by_name=not staged.uniform,
        filename=True,
        file_row_number=True,
    )
    return table.select(
        _.filename.name(FILE_COL),
        (_.file_row_number + 1).name(ROW_COL),
        *staged.columns,
    )
