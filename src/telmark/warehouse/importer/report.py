"""What an import returns (a report per table) or raises (the list of problems)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telmark.errors import InvalidInput

# ``Problem.row`` for problems in the header (a missing, extra or duplicated column).
HEADER = "header"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a file was rejected, precise enough to find and fix in the file.

    ``row`` is the record number as a spreadsheet shows it (CSV: the header is
    row 1, the first data row is row 2; Parquet: the first row is row 1),
    ``"header"`` for header problems, or ``None`` when the file as a whole is at
    fault (no file, unreadable encoding without a located line).
    """

    file: str
    row: int | str | None
    column: str | None
    value: str | None
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one table's load did."""

    table: str
    source: str
    files: tuple[str, ...]
    format: str  # "csv" or "parquet"
    encoding: str | None  # the encoding used (CSV only)
    rows: int
    previous_rows: int | None  # rows the table held before, None if it did not exist
    seconds: float


class ImportRejected(InvalidInput):
    """The input failed validation; nothing was loaded and the warehouse is unchanged.

    ``details`` holds up to ``max_errors`` problems (as dicts with file, row,
    column, value and reason); ``total`` counts all of them and ``more`` the
    ones left out.
    """

    code = "import_rejected"

    def __init__(self, *, source: str, problems: Sequence[Problem], total: int) -> None:
        shown = len(problems)
        noun = "problem" if total == 1 else "problems"
        message = f"{source}: {total} {noun} found; nothing was loaded"
        if total > shown:
            message += f" (the first {shown} are listed, {total - shown} more not shown)"
        super().__init__(message, details=[p.as_dict() for p in problems])
        self.problems = tuple(problems)
        self.total = total
        self.more = total - shown
