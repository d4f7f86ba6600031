"""Outbound-call lists for call centres: export a list to dial, import the results.

A call centre works from a file, not an API: telmark writes the list (CSV in
UTF-8 with a byte-order mark, which Excel on Chinese Windows opens correctly,
or XLSX) and the centre sends back one row per call with its outcome.

* Every row carries the outbox key (``编号``); results are matched on it, never
  on the phone number, so a list exported with masked numbers (the default)
  still closes its loop, and one subscriber on two cases stays two rows.
* Numbers and names are masked (``privacy.masking``) unless the export is
  asked for in clear; the service that does so must have passed the rows
  through ``privacy.service.disclose``, which checks the right and writes the
  audit entry.
* A result file is validated whole before anything is used, as every import
  in telmark is: any bad row rejects the file, and the error names the file,
  row (as a spreadsheet numbers it: the header is row 1), column and reason.

Headers are Chinese for the people who read the files; the English names
(``key``, ``outcome``, ...) are accepted too, and so are outcomes in either
language (``接通``/``reached``, ``成功``/``accepted``, ``拒绝``/``declined``,
``未接通``/``unreachable``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path

from openpyxl import Workbook, load_workbook

from telmark.errors import InvalidInput
from telmark.privacy.masking import mask_msisdn, mask_name
from telmark.translation import N_

UTF8_BOM = b"\xef\xbb\xbf"
MAX_PROBLEMS = 200
MAX_NOTES = 500
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # call centres write local time

EXPORT_COLUMNS: list[tuple[str, str]] = [
    ("key", "编号"),
    ("msisdn", "号码"),
    ("name", "姓名"),
    ("script", "话术"),
    ("case", "营销案"),
]
# Left empty in the export: the centre fills them in and sends the same file back.
RESULT_LABELS = {"outcome": "结果", "notes": "备注", "called_at": "外呼时间", "key": "编号"}
RESULT_COLUMNS: dict[str, str] = {  # header (either language) -> field
    "key": "key",
    "编号": "key",
    "outcome": "outcome",
    "结果": "outcome",
    "notes": "notes",
    "备注": "notes",
    "called_at": "called_at",
    "外呼时间": "called_at",
}
REQUIRED_RESULT_FIELDS = ("key", "outcome")


class CallOutcome(StrEnum):
    REACHED = "reached"  # answered, no decision
    ACCEPTED = "accepted"  # took the offer
    DECLINED = "declined"
    UNREACHABLE = "unreachable"  # no answer, busy, switched off, wrong number


OUTCOME_WORDS: dict[str, CallOutcome] = {
    **{o.value: o for o in CallOutcome},
    "接通": CallOutcome.REACHED,
    "成功": CallOutcome.ACCEPTED,
    "接受": CallOutcome.ACCEPTED,
    "拒绝": CallOutcome.DECLINED,
    "未接通": CallOutcome.UNREACHABLE,
}


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True, slots=True)
class CallTask:
    """One subscriber to call: ``key`` is the outbox key; ``script`` the rendered talk track."""

    key: str
    msisdn: str
    name: str | None
    script: str
    case: str = ""


@dataclass(frozen=True, slots=True)
class CallResult:
    key: str
    outcome: CallOutcome
    notes: str = ""
    called_at: datetime | None = None  # aware


@dataclass(frozen=True, slots=True)
class FileProblem:
    """Why a result file was rejected; ``reason`` is an English msgid filled from ``params``."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    params: dict[str, object] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.message % self.params if self.params else self.message

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
        }


class CallFileRejected(InvalidInput):
    """The result file failed validation; none of its rows was used."""

    def __init__(self, file: str, problems: list[FileProblem], total: int) -> None:
        first = problems[0]
        where = ", ".join(
            p
            for p in (
                f"row {first.row}" if first.row is not None else "",
                f"column {first.column}" if first.column else "",
            )
            if p
        )
        more = f" (first {len(problems)} listed)" if total > len(problems) else ""
        super().__init__(
            f"{file}: rejected with {total} problem(s){more}, first: "
            f"{where + ': ' if where else ''}{first.reason}; nothing was imported",
            details=[p.as_dict() for p in problems],
        )
        self.problems = problems
        self.total = total


# -- export -----------------------------------------------------------------------------


def _rows(tasks: Iterable[CallTask], *, clear: bool) -> Iterable[list[str]]:
    for task in tasks:
        name = task.name or ""
        yield [
            task.key,
            task.msisdn if clear else mask_msisdn(task.msisdn),
            name if clear or not name else mask_name(name),
            task.script,
            task.case,
            "",
            "",
            "",
        ]


def export_call_list(
    tasks: Iterable[CallTask], *, file_format: FileFormat, clear: bool = False
) -> bytes:
    """The call list as file bytes; numbers and names masked unless ``clear``.

    Only pass ``clear=True`` for rows obtained through ``privacy.service.disclose``.
    """
    header = [label for _, label in EXPORT_COLUMNS] + [
        RESULT_LABELS[name] for name in ("outcome", "notes", "called_at")
    ]
    if file_format is FileFormat.CSV:
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(_rows(tasks, clear=clear))
        return UTF8_BOM + text.getvalue().encode("utf-8")
    book = Workbook(write_only=True)  # streams rows: a list of 100k calls stays small in memory
    sheet = book.create_sheet("外呼清单")
    sheet.append(header)
    for row in _rows(tasks, clear=clear):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- results ----------------------------------------------------------------------------


def _decode(data: bytes, file: str) -> str:
    if data.startswith(UTF8_BOM):
        return data[len(UTF8_BOM) :].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:  # Excel on Chinese Windows saves "CSV" as GBK, a subset of GB18030
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        problem = FileProblem(
            file, line, None, None, N_("bytes not valid in utf-8 or gb18030; save as UTF-8")
        )
        raise CallFileRejected(file, [problem], 1) from error


def _table(data: bytes, file: str) -> list[list[str]]:
    """The file's cells as text, header first, whether it is CSV or XLSX."""
    if data[:4] == b"PK\x03\x04" or file.lower().endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
            problem = FileProblem(
                file,
                None,
                None,
                None,
                N_("not a readable XLSX file: %(error)s"),
                {"error": str(error)},
            )
            raise CallFileRejected(file, [problem], 1) from error
        sheet = book.worksheets[0]
        rows = [
            ["" if v is None else _cell(v) for v in row]
            for row in sheet.iter_rows(values_only=True)
        ]
        book.close()
        return rows
    return list(csv.reader(io.StringIO(_decode(data, file), newline="")))


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores typed numbers as floats
    return str(value)


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("/", "-"))
    return value if value.tzinfo else value.replace(tzinfo=CHINA)


def parse_results(
    data: bytes, *, file: str, expected_keys: Mapping[str, object] | None = None
) -> list[CallResult]:
    """Every row of a result file, or CallFileRejected listing every problem.

    ``expected_keys``: the keys of the list that was exported; a row with any
    other key is an error (a result for a call that was never asked for).
    """
    table = _table(data, file)
    if not table or not any(cell.strip() for cell in table[0]):
        raise CallFileRejected(
            file, [FileProblem(file, None, None, None, N_("the file is empty"))], 1
        )
    header = [cell.strip().removeprefix("\ufeff") for cell in table[0]]
    problems: list[FileProblem] = []
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        target = RESULT_COLUMNS.get(name) or RESULT_COLUMNS.get(name.lower())
        if target is None:
            continue  # the centre may send back the exported columns too; they are ignored
        if target in columns:
            problems.append(FileProblem(file, 1, name, None, N_("column given twice")))
        columns[target] = index
    for required in REQUIRED_RESULT_FIELDS:
        if required not in columns:
            label = RESULT_LABELS[required]
            problems.append(
                FileProblem(
                    file, 1, label, None, N_("missing column %(column)s"), {"column": label}
                )
            )
    if problems:
        raise CallFileRejected(file, problems, len(problems))

    results: list[CallResult] = []
    seen: dict[str, int] = {}
    total = 0

    def problem(row: int, name: str, value: str | None, message: str, **params: object) -> None:
        nonlocal total
        total += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(FileProblem(file, row, header[columns[name]], value, message, params))

    for row_number, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank lines at the end of a hand-edited file

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        key, word, notes, when = cell("key"), cell("outcome"), cell("notes"), cell("called_at")
        ok = True
        if not key:
            problem(row_number, "key", None, N_("no key"))
            ok = False
        elif key in seen:
            problem(row_number, "key", key, N_("key already on row %(first)s"), first=seen[key])
            ok = False
        elif expected_keys is not None and key not in expected_keys:
            problem(row_number, "key", key, N_("key not in the exported call list"))
            ok = False
        else:
            seen[key] = row_number
        outcome = OUTCOME_WORDS.get(word) or OUTCOME_WORDS.get(word.lower())
        if outcome is None:
            problem(
                row_number,
                "outcome",
                word or None,
                N_("unknown outcome; use one of %(allowed)s"),
                allowed="接通/成功/拒绝/未接通 or reached/accepted/declined/unreachable",
            )
            ok = False
        if len(notes) > MAX_NOTES:
            problem(
                row_number,
                "notes",
                notes[:50],
                N_("longer than %(limit)s characters"),
                limit=MAX_NOTES,
            )
            ok = False
        called_at = None
        if when:
            try:
                called_at = _parse_time(when)
            except ValueError:
                problem(
                    row_number,
                    "called_at",
                    when,
                    N_("not a date and time such as 2025-06-01 14:30"),
                )
                ok = False
        if ok and outcome is not None:
            results.append(CallResult(key, outcome, notes, called_at))
    if total:
        raise CallFileRejected(file, problems, total)
    return results


def read_results(
    path: Path, *, expected_keys: Mapping[str, object] | None = None
) -> list[CallResult]:
    """``parse_results`` of a file on disk."""
    return parse_results(path.read_bytes(), file=path.name, expected_keys=expected_keys)
