"""Reading an experiment table (CSV or Parquet, one row per customer) into per-arm counts.

One Ibis expression over DuckDB normalises the arm, outcome and value columns and groups
by arm, so a 10M-row file is one parallel scan and only a row per arm reaches Python. A
second query, only when something is wrong, fetches the first offending rows so that each
problem names the file, row and column (rows as a spreadsheet numbers them: in a CSV the
header is row 1, in Parquet the first row is row 1 — the warehouse importer's convention,
whose ``Problem`` records are reused).

CSV files are streamed by pyarrow into a Parquet file under ``work_dir`` with every needed
column as text and each row's number, because DuckDB's CSV reader numbers no rows and reads
GBK only through an extension it would have to download. Encodings follow the importer's
``auto`` policy: a UTF-8 byte-order mark means UTF-8; otherwise UTF-8, and at the first
byte that is not UTF-8 the file is read again as GB18030 (a superset of GBK). Parquet is
read in place.

Blank means null, or text that is empty after trimming spaces. Typed Parquet columns are
taken as they are: booleans as outcomes, numbers 0/1 as outcomes, any number as a value;
floating NaN counts as blank.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from ibis.expr import types as ir

from telmark.errors import InvalidInput
from telmark.evaluation.domain import (
    MAX_ARMS,
    ONE_WORDS,
    ZERO_WORDS,
    ArmCounts,
    ExperimentSpec,
    OutcomeCounts,
    ValueStats,
)
from telmark.translation import N_
from telmark.warehouse.importer.csv_staging import locate_undecodable
from telmark.warehouse.importer.report import HEADER, Problem

ROW = "__row"
MAX_PROBLEMS = 20
PARQUET_SUFFIXES = (".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"
BLOCK_SIZE = 16 << 20
SHOWN_VALUE_CHARS = 80
# Problem reasons are msgids, so the console shows them translated (the words are
# ONE_WORDS and ZERO_WORDS; a unit test keeps the text in step with them).
OUTCOME_TEXT_REASON = N_(
    "not an outcome; use true/t/1/y/yes/是 for 1, false/f/0/n/no/否 for 0 (blank = unknown)"
)
OUTCOME_NUMBER_REASON = N_("an outcome must be 0 or 1 (blank = unknown)")
VALUE_REASON = N_("not a number")
ARM_REASON = N_("the arm is blank; every customer must belong to an arm")
DUPLICATE_REASON = N_("column appears more than once")


class ExperimentFileRejected(InvalidInput):
    """The file has problems in its header or rows; nothing was evaluated.

    ``details`` holds up to ``MAX_PROBLEMS`` problems (file, row, column, value, reason);
    ``total`` counts all of them.
    """

    code = "experiment_file_rejected"

    def __init__(self, *, source: str, problems: Sequence[Problem], total: int) -> None:
        noun = "problem" if total == 1 else "problems"
        message = f"{source}: {total} {noun} found; nothing was evaluated"
        if total > len(problems):
            message += f" (the first {len(problems)} are listed)"
        super().__init__(message, details=[p.as_dict() for p in problems])
        self.problems = tuple(problems)
        self.total = total


def is_parquet(path: Path) -> bool:
    """Parquet by suffix, or by its magic bytes (an upload may have any name)."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS] + "…"


# --- CSV staging -------------------------------------------------------------------------


class _BadRows:
    """Rows with the wrong number of fields, collected while pyarrow skips them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.count = 0

    def __call__(self, row: pacsv.InvalidRow) -> str:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS:
            reason = f"has {row.actual_columns} fields, the header has {row.expected_columns}"
            self.problems.append(Problem(self.source, row.number, None, _shown(row.text), reason))
        return "skip"


def _is_decode_error(error: Exception) -> bool:
    return isinstance(error, UnicodeDecodeError) or "invalid UTF8" in str(error)


def _arrow_codec(encoding: str) -> str:
    return "utf8" if encoding.startswith("utf-8") else encoding


def _csv_header(path: Path, codec: str) -> list[str]:
    reader = pacsv.open_csv(
        str(path),
        read_options=pacsv.ReadOptions(encoding=codec, block_size=1 << 20, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
    )
    try:
        return list(reader.schema.names)
    finally:
        reader.close()


def _stream_csv(path: Path, codec: str, columns: Sequence[str], out: Path, source: str) -> None:
    header = _csv_header(path, codec)
    if any(c not in header or header.count(c) > 1 for c in columns):
        raise _rejected_header(header, columns, source)
    bad_rows = _BadRows(source)
    reader = pacsv.open_csv(
        str(path),
        # Serial parsing lets pyarrow tell the invalid-row handler each bad row's line.
        read_options=pacsv.ReadOptions(encoding=codec, block_size=BLOCK_SIZE, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=bad_rows),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            include_columns=list(columns),
            strings_can_be_null=False,
        ),
    )
    schema = pa.schema([*((c, pa.string()) for c in columns), (ROW, pa.int64())])
    next_row = 2  # the header is row 1
    with pq.ParquetWriter(out, schema, compression="none") as writer:
        for batch in reader:
            rows = pa.array(range(next_row, next_row + batch.num_rows), pa.int64())
            arrays = [batch.column(c) for c in columns]
            writer.write_batch(pa.RecordBatch.from_arrays([*arrays, rows], schema=schema))
            next_row += batch.num_rows
    if bad_rows.count:
        raise ExperimentFileRejected(
            source=source, problems=bad_rows.problems, total=bad_rows.count
        )


def _rejected_header(
    header: Sequence[str], columns: Sequence[str], source: str
) -> ExperimentFileRejected:
    problems = []
    listed = ", ".join(header[:30]) + (" …" if len(header) > 30 else "")
    for column in columns:
        if header.count(column) > 1:
            problems.append(Problem(source, HEADER, column, None, DUPLICATE_REASON))
        elif column not in header:
            reason = f"column is missing; the file has: {listed or '(no columns)'}"
            problems.append(Problem(source, HEADER, column, None, reason))
    return ExperimentFileRejected(source=source, problems=problems, total=len(problems))


def stage_csv(path: Path, *, columns: Sequence[str], source: str, out: Path) -> None:
    """Stream the needed columns of a CSV (UTF-8 or GBK/GB18030) into Parquet with row numbers."""
    with path.open("rb") as handle:
        bom = handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    candidates = ["utf-8-sig"] if bom else ["utf-8", "gb18030"]
    for position, encoding in enumerate(candidates):
        try:
            _stream_csv(path, _arrow_codec(encoding), columns, out, source)
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            if _is_decode_error(error) and position + 1 < len(candidates):
                continue  # not UTF-8 after all: read it again as GB18030
            if _is_decode_error(error):
                found = locate_undecodable(path, encoding)
                line, raw = found if found is not None else (None, b"")
                shown = " ".join(f"0x{b:02X}" for b in raw[:8]) or None
                reason = f"bytes not valid in {encoding}; save the file as UTF-8 or GBK"
                problem = Problem(source, line, None, shown, reason)
                raise ExperimentFileRejected(source=source, problems=[problem], total=1) from None
            if "Empty CSV" in str(error):
                raise InvalidInput(
                    f"{source}: the file is empty; a header row is required"
                ) from None
            raise InvalidInput(f"{source}: cannot be read as CSV: {error}") from None
        return


# --- the per-arm aggregate ------------------------------------------------------------------


def _open(con: Any, path: Path, *, spec: ExperimentSpec, source: str, work_dir: Path) -> ir.Table:
    """The file as a table of the spec's columns and ``__row``."""
    columns = spec.columns
    if not is_parquet(path):
        staged = work_dir / "experiment.parquet"
        stage_csv(path, columns=columns, source=source, out=staged)
        return con.read_parquet(str(staged))
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowInvalid, OSError) as error:
        raise InvalidInput(f"{source}: not a readable Parquet file ({error})") from None
    if any(c not in names or names.count(c) > 1 for c in columns):
        raise _rejected_header(names, columns, source)
    table = con.read_parquet(str(path), file_row_number=True)
    return table.select(*columns, **{ROW: table.file_row_number + 1})


def _outcome(column: ir.Column, name: str, source: str) -> tuple[ir.Value, ir.Value, ir.Value, str]:
    """(0/1 or null, blank, bad, reason for bad) of an outcome column of any supported type."""
    kind = column.type()
    if kind.is_boolean():
        return column.cast("int64"), column.isnull(), ibis.literal(False), ""
    if kind.is_numeric():
        blank = column.isnull()
        if kind.is_floating():
            blank = blank | column.isnan()
        value = ibis.cases((column == 1, 1), (column == 0, 0), else_=None)
        return value, blank, ~blank & value.isnull(), OUTCOME_NUMBER_REASON
    if kind.is_string():
        # One simple CASE on the trimmed, lower-cased text (computed once per row, where
        # separate IN tests would each recompute it): 1, 0, -1 for blank, else null (bad).
        words = [(w, 1) for w in ONE_WORDS] + [(w, 0) for w in ZERO_WORDS] + [("", -1)]
        code = column.strip().lower().cases(*words, else_=None)
        blank = column.isnull() | (code == -1)
        return code.nullif(-1), blank, column.notnull() & code.isnull(), OUTCOME_TEXT_REASON
    raise _type_problem(
        name, str(kind), source, "an outcome column must hold 0/1, booleans or words"
    )


def _value(column: ir.Column, name: str, source: str) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(number or null, blank, bad) of the value column: numbers, or text holding numbers."""
    kind = column.type()
    if kind.is_numeric():
        number = column.cast("float64")
        blank = column.isnull() | number.isnan()
        return ibis.ifelse(blank, None, number), blank, ibis.literal(False)
    if kind.is_string():
        text = column.strip()
        blank = column.isnull() | (text == "")
        parsed = text.try_cast("float64")
        # TRY_CAST reads "nan" and "inf" as numbers; neither is a customer's value.
        bad = ~blank & (parsed.isnull() | parsed.isnan() | parsed.isinf())
        return ibis.ifelse(blank | bad, None, parsed), blank, bad
    raise _type_problem(name, str(kind), source, "the value column must hold numbers")


def _type_problem(name: str, kind: str, source: str, reason: str) -> ExperimentFileRejected:
    problem = Problem(source, HEADER, name, kind, reason)
    return ExperimentFileRejected(source=source, problems=[problem], total=1)


def _flag(value: ir.Value) -> ir.Value:
    return value.cast("int64").sum()


def count_arms(path: Path, *, spec: ExperimentSpec, source: str, work_dir: Path) -> list[ArmCounts]:
    """Per-arm counts of every outcome and value statistics; rejects a file with bad rows."""
    spec.check()
    if not path.is_file():
        raise InvalidInput(f"{source}: no such file")
    con = ibis.duckdb.connect()
    try:
        table = _open(con, path, spec=spec, source=source, work_dir=work_dir)
        return _count(table, spec=spec, source=source)
    finally:
        con.disconnect()


def _count(table: ir.Table, *, spec: ExperimentSpec, source: str) -> list[ArmCounts]:
    arm_text = table[spec.arm].cast("string").strip()
    columns: dict[str, ir.Value] = {"__arm": arm_text.nullif("")}
    columns["__arm_bad"] = columns["__arm"].isnull()
    flags: list[tuple[str, str, str]] = [("__arm_bad", spec.arm, ARM_REASON)]
    for i, name in enumerate(spec.outcomes):
        value, blank, bad, reason = _outcome(table[name], name, source)
        columns |= {f"__o{i}": value, f"__o{i}_blank": blank, f"__o{i}_bad": bad}
        flags.append((f"__o{i}_bad", name, reason))
    if spec.value:
        value, blank, bad = _value(table[spec.value], spec.value, source)
        columns |= {"__v": value, "__v_blank": blank, "__v_bad": bad}
        flags.append(("__v_bad", spec.value, VALUE_REASON))
    prepared = table.mutate(**columns)
    metrics: dict[str, ir.Value] = {"__customers": prepared.count()}
    for i in range(len(spec.outcomes)):
        outcome = prepared[f"__o{i}"]
        metrics |= {
            f"__o{i}_ones": outcome.sum(),
            f"__o{i}_known": outcome.count(),
            f"__o{i}_blank": _flag(prepared[f"__o{i}_blank"]),
        }
    if spec.value:
        metrics |= {
            "__v_count": prepared["__v"].count(),
            "__v_mean": prepared["__v"].mean(),
            "__v_var": prepared["__v"].var(how="sample"),
            "__v_blank": _flag(prepared["__v_blank"]),
        }
    metrics |= {key: _flag(prepared[key]) for key, _, _ in flags}
    # A handful of arms is expected; the limit keeps a wrong arm column (a customer id)
    # from bringing millions of groups into Python.
    groups = prepared.group_by("__arm").aggregate(**metrics).limit(MAX_ARMS + 2)
    rows: list[dict[str, Any]] = groups.to_pyarrow().to_pylist()
    if not rows:
        raise InvalidInput(f"{source}: the file has no data rows")
    total_bad = sum(int(r[key] or 0) for r in rows for key, _, _ in flags)
    if total_bad:
        raise ExperimentFileRejected(
            source=source, problems=_examples(prepared, flags, source), total=total_bad
        )
    return [_arm_counts(r, spec) for r in rows]


def _examples(prepared: ir.Table, flags: list[tuple[str, str, str]], source: str) -> list[Problem]:
    """The first offending cells, in file order."""
    any_bad = prepared[flags[0][0]]
    for key, _, _ in flags[1:]:
        any_bad = any_bad | prepared[key]
    shown = {f"__text{i}": prepared[name].cast("string") for i, (_, name, _) in enumerate(flags)}
    picked = (
        prepared.filter(any_bad)
        .order_by(ROW)
        .limit(MAX_PROBLEMS)
        .select(ROW, *(key for key, _, _ in flags), **shown)
    )
    problems: list[Problem] = []
    for row in picked.to_pyarrow().to_pylist():
        for i, (key, name, reason) in enumerate(flags):
            if row[key] and len(problems) < MAX_PROBLEMS:
                text = _shown(row[f"__text{i}"])
                problems.append(Problem(source, row[ROW], name, text, reason))
    return problems


def _arm_counts(row: dict[str, Any], spec: ExperimentSpec) -> ArmCounts:
    outcomes = {
        name: OutcomeCounts(
            successes=int(row[f"__o{i}_ones"] or 0),
            known=int(row[f"__o{i}_known"]),
            missing=int(row[f"__o{i}_blank"] or 0),
        )
        for i, name in enumerate(spec.outcomes)
    }
    value = None
    if spec.value:
        count = int(row["__v_count"])
        value = ValueStats(
            count=count,
            mean=row["__v_mean"],
            variance=row["__v_var"] if count >= 2 else None,
            missing=int(row["__v_blank"] or 0),
        )
    return ArmCounts(
        label=str(row["__arm"]), customers=int(row["__customers"]), outcomes=outcomes, value=value
    )
