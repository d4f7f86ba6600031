"""Reading a consent file: decode, check the header, validate every row before anything lands.

The file is a CSV with a header row: ``msisdn``, ``kind``, ``channel`` and
optionally ``reason`` and ``source`` (values as in ``consent.domain``).
Encodings follow the warehouse importer's rule (``auto``: a UTF-8 byte-order
mark means UTF-8; otherwise UTF-8, and at the first byte that is not UTF-8
the file is read again as GB18030, a superset of GBK), so a file exported
from BOSS or saved by Excel on a Chinese Windows reads the same way in both
importers. Consent files are small next to warehouse tables (one short row
per number), so the file is decoded in memory rather than streamed.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

from telmark.consent.domain import EntrySpec, RowProblem, header_problems, parse_row
from telmark.errors import InvalidInput
from telmark.translation import N_

MAX_PROBLEMS = 200  # problems listed in the error; all are counted


@dataclass(frozen=True, slots=True)
class ParsedFile:
    encoding: str
    rows: int
    entries: list[EntrySpec]


class ConsentFileRejected(InvalidInput):
    """The file failed validation; nothing was imported. ``problems`` as found (translatable)."""

    def __init__(self, message: str, *, problems: list[RowProblem], total: int) -> None:
        super().__init__(message, details=[p.as_dict() for p in problems])
        self.problems = problems
        self.total = total


def _rejected(file: str, problems: list[RowProblem], total: int) -> ConsentFileRejected:
    more = f" (first {len(problems)} listed)" if total > len(problems) else ""
    first = problems[0]
    where = ", ".join(
        part
        for part in (
            f"row {first.row}" if first.row is not None else "",
            f"column {first.column}" if first.column else "",
        )
        if part
    )
    return ConsentFileRejected(
        f"{file}: rejected with {total} problem(s){more}, first: "
        f"{where + ': ' if where else ''}{first.reason}; nothing was imported",
        problems=problems,
        total=total,
    )


def decode(data: bytes, *, file: str, encoding: str = "auto") -> tuple[str, str]:
    """The file's text and the encoding it was read with."""
    from telmark.warehouse.importer.csv_staging import UTF8_BOM, resolve_encoding

    if encoding != "auto":
        candidates = [resolve_encoding(encoding)]
    elif data.startswith(UTF8_BOM):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    failure: UnicodeDecodeError | None = None
    for name in candidates:
        try:
            return data.decode(name), name
        except UnicodeDecodeError as error:
            failure = error
    assert failure is not None
    line = data.count(b"\n", 0, failure.start) + 1
    shown = " ".join(f"0x{b:02X}" for b in data[failure.start : failure.end][:8])
    message = N_(
        "bytes not valid in %(encoding)s; give the file's encoding (utf-8, gbk or gb18030)"
    )
    problem = RowProblem(file, line, None, shown, message, {"encoding": candidates[-1]})
    raise _rejected(file, [problem], 1) from failure


def parse(data: bytes, *, file: str, encoding: str = "auto") -> ParsedFile:
    """Every row of the file as an entry, or ConsentFileRejected listing every problem."""
    text, used = decode(data, file=file, encoding=encoding)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None:
        raise _rejected(file, [RowProblem(file, None, None, None, N_("the file is empty"))], 1)
    names = [h.strip() for h in header]
    problems = header_problems(names, file)
    if problems:
        raise _rejected(file, problems, len(problems))
    entries: list[EntrySpec] = []
    total = rows = 0
    for number, values in enumerate(reader, start=2):  # the header is row 1
        if not any(v.strip() for v in values):
            continue  # blank lines, e.g. at the end of a hand-edited file
        rows += 1
        if len(values) != len(names):
            message = N_("has %(found)s fields, the header has %(expected)s")
            params: dict[str, object] = {"found": len(values), "expected": len(names)}
            found: EntrySpec | list[RowProblem] = [
                RowProblem(file, number, None, ",".join(values)[:200], message, params)
            ]
        else:
            found = parse_row(dict(zip(names, values, strict=True)), file=file, number=number)
        if isinstance(found, EntrySpec):
            entries.append(found)
            continue
        total += len(found)
        problems.extend(found[: max(0, MAX_PROBLEMS - len(problems))])
    if total:
        raise _rejected(file, problems, total)
    return ParsedFile(encoding=codecs.lookup(used).name, rows=rows, entries=entries)
