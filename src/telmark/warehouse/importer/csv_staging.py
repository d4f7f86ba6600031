"""Staging CSV: decoding any of the supported encodings while streaming into Parquet.

Each CSV is read by pyarrow in 16 MB blocks with every column as text, each
block parsed into the contract types (``parsing``) and written to a staged
Parquet file with the file name and record number of each row. Parsing and
writing block k overlap with reading block k+1. Nothing holds a whole file.

Encodings: ``auto`` takes a UTF-8 byte-order mark as UTF-8; otherwise it reads
the file as UTF-8 and, at the first byte sequence that is not UTF-8, starts the
file again as GB18030 (a superset of GBK and GB2312). DuckDB's own CSV reader
is not used because reading GBK needs its encodings extension, a download.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from telmark.errors import InvalidInput
from telmark.warehouse.contract import TableSpec
from telmark.warehouse.importer.reading import (
    Converter,
    Progress,
    Staged,
    header_problems,
    staged_writer,
)
from telmark.warehouse.importer.report import Problem

BLOCK_SIZE = 16 << 20
UTF8_BOM = codecs.BOM_UTF8


def resolve_encoding(name: str) -> str:
    """The canonical Python codec name for ``name``, or InvalidInput."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InvalidInput(f"unknown encoding {name!r}; use auto, utf-8, gbk or gb18030") from None


def _arrow_codec(encoding: str) -> str:
    # Arrow decodes UTF-8 natively (and skips a BOM); any other codec goes
    # through Python's incremental decoder, block by block.
    return "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding


def _starts_with_bom(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(UTF8_BOM)) == UTF8_BOM


def _is_decode_error(error: Exception) -> bool:
    return isinstance(error, UnicodeDecodeError) or "invalid UTF8" in str(error)


def locate_undecodable(path: Path, encoding: str) -> tuple[int, bytes] | None:
    """Line number and bytes of the first sequence ``encoding`` cannot decode.

    Reads line-aligned pieces: neither UTF-8 nor GB18030 uses the newline byte
    inside a multi-byte character, so a piece never splits one.
    """
    line = 1
    carry = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            piece, carry = data[:cut], data[cut:]
            try:
                piece.decode(encoding)
            except UnicodeDecodeError as error:
                return line + piece.count(b"\n", 0, error.start), piece[error.start : error.end]
            line += piece.count(b"\n")
            if not chunk:
                return None


def _decode_problem(path: Path, encoding: str) -> Problem:
    """The file cannot be read as ``encoding``: where, as precisely as we can tell."""
    found = locate_undecodable(path, encoding)
    advice = "pass --encoding with the file's encoding (utf-8, gbk or gb18030)"
    if found is None:
        return Problem(str(path), None, None, None, f"cannot be decoded as {encoding}; {advice}")
    line, raw = found
    shown = " ".join(f"0x{b:02X}" for b in raw[:8])
    return Problem(str(path), line, None, shown, f"bytes not valid in {encoding}; {advice}")


@dataclass(slots=True)
class _BadRows:
    """Rows with the wrong number of fields, collected while pyarrow skips them."""

    limit: int
    file: str
    problems: list[Problem] = field(default_factory=list)
    count: int = 0

    def __call__(self, row: pacsv.InvalidRow) -> str:
        self.count += 1
        if len(self.problems) < self.limit:
            text = row.text if len(row.text) <= 200 else row.text[:200] + "…"
            reason = f"has {row.actual_columns} fields, the header has {row.expected_columns}"
            self.problems.append(Problem(self.file, row.number, None, text, reason))
        return "skip"


def _read_header(path: Path, codec: str) -> list[str]:
    reader = pacsv.open_csv(
        str(path),
        read_options=pacsv.ReadOptions(encoding=codec, block_size=1 << 20, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
    )
    try:
        return list(reader.schema.names)
    finally:
        reader.close()


def _stage_file(
    *,
    path: Path,
    codec: str,
    converter: Converter,
    present: Sequence[str],
    out: Path,
    bad_rows: _BadRows,
    report: Callable[[int], None],
) -> None:
    """Stream one CSV into ``out``: contract columns parsed, plus file and record number."""
    label = pa.scalar(str(path))
    next_row = 2  # the header is row 1
    with pa.OSFile(str(path)) as raw:
        reader = pacsv.open_csv(
            raw,
            # Serial parsing is barely slower here and lets pyarrow tell the
            # invalid-row handler the line number of a malformed row.
            read_options=pacsv.ReadOptions(
                encoding=codec, block_size=BLOCK_SIZE, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=bad_rows),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in present},
                include_columns=list(present),
                strings_can_be_null=False,
            ),
        )
        with staged_writer(out, converter.schema) as writer, ThreadPoolExecutor(1) as worker:
            # Parse and write block k on a worker while pyarrow reads block
            # k+1 (both release the GIL): about a quarter faster on 2 cores.
            pending: Future[None] | None = None
            for batch in reader:
                columns = {c: batch.column(c) for c in present}
                job = worker.submit(
                    _write, writer, converter, columns, batch.num_rows, label, next_row
                )
                if pending is not None:
                    pending.result()
                pending = job
                next_row += batch.num_rows
                report(raw.tell())
            if pending is not None:
                pending.result()


def _write(
    writer: pq.ParquetWriter,
    converter: Converter,
    columns: dict[str, pa.Array],
    rows: int,
    file: pa.Scalar,
    first_row: int,
) -> None:
    writer.write_batch(converter.convert(columns, rows, file, first_row))


def _probe(path: Path, candidates: list[str]) -> tuple[list[str], list[str], Problem | None]:
    """The header, the encodings still worth trying for the rows, or why there is none."""
    for position, candidate in enumerate(candidates):
        try:
            return _read_header(path, _arrow_codec(candidate)), candidates[position:], None
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            if _is_decode_error(error) and position + 1 < len(candidates):
                continue
            if _is_decode_error(error):
                return [], [], _decode_problem(path, candidate)
            if "Empty CSV" in str(error):
                reason = "file is empty; a header row is required"
            else:
                reason = f"cannot be read as CSV: {error}"
            return [], [], Problem(str(path), None, None, None, reason)
    raise AssertionError("unreachable: the last candidate returns")


def stage_csv(
    *,
    spec: TableSpec,
    files: Sequence[Path],
    encoding: str,
    work_dir: Path,
    max_errors: int,
    progress: Progress | None,
) -> Staged:
    """Check each CSV's header and stream its rows into a staged Parquet file."""
    staged = Staged(format="csv", files=tuple(files))
    headers: list[list[str]] = []
    codecs_by_file: list[list[str]] = []
    used: set[str] = set()
    for path in files:
        if encoding == "auto":
            candidates = ["utf-8-sig"] if _starts_with_bom(path) else ["utf-8", "gb18030"]
        else:
            candidates = [resolve_encoding(encoding)]
        names, candidates, problem = _probe(path, candidates)
        if problem is not None:  # no header to check either
            staged.add(problem, limit=max_errors)
            staged.checkable = False
        else:
            for header_problem in header_problems(spec, names, str(path)):
                staged.add(header_problem, limit=max_errors)
        if len(set(names)) != len(names):
            staged.checkable = False
        headers.append(names)
        codecs_by_file.append(candidates)

    staged.columns = tuple(c for c in spec.column_names if any(c in n for n in headers))
    if not staged.checkable:
        return staged

    converter = Converter(spec, {c: pa.string() for c in staged.columns})
    label = f"reading {spec.name}"
    total = sum(p.stat().st_size for p in files)
    done_before = 0
    paths: list[str] = []
    for index, (path, names, candidates) in enumerate(
        zip(files, headers, codecs_by_file, strict=True)
    ):
        present = [c for c in staged.columns if c in names]
        out = work_dir / f"{spec.name}-{index:05d}.parquet"

        def report(at: int, before: int = done_before) -> None:
            if progress is not None:
                progress(label, before + at, total)

        bad_rows = _BadRows(limit=max_errors, file=str(path))
        for position, candidate in enumerate(candidates):
            bad_rows = _BadRows(limit=max_errors, file=str(path))
            try:
                _stage_file(
                    path=path,
                    codec=_arrow_codec(candidate),
                    converter=converter,
                    present=present,
                    out=out,
                    bad_rows=bad_rows,
                    report=report,
                )
            except (pa.ArrowInvalid, UnicodeDecodeError) as error:
                if _is_decode_error(error) and position + 1 < len(candidates):
                    continue  # auto: not UTF-8 after all, start again as GB18030
                staged.checkable = False
                if _is_decode_error(error):
                    problem = _decode_problem(path, candidate)
                else:
                    problem = Problem(
                        str(path), None, None, None, f"cannot be read as CSV: {error}"
                    )
                staged.add(problem, limit=max_errors)
            else:
                used.add(candidate)
            break
        for problem in bad_rows.problems:
            staged.add(problem, limit=max_errors)
        staged.problem_count += bad_rows.count - len(bad_rows.problems)
        if bad_rows.count:
            # Skipped rows shift every later record number, so per-row checks
            # would name the wrong rows: report the shape problems alone.
            staged.checkable = False
        done_before += path.stat().st_size
        paths.append(str(out))
    staged.paths = tuple(paths)
    staged.encoding = ", ".join(sorted(used)) or None
    if progress:
        progress(label, total, total)
    return staged
