"""Call lists: export masked or in clear, CSV and XLSX; result files validated whole."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook, load_workbook

from telmark.execution.channels.calls import (
    CallFileRejected,
    CallOutcome,
    CallTask,
    FileFormat,
    export_call_list,
    parse_results,
)

TASKS = [
    CallTask(
        "case-5:1",
        "13812345678",
        "王小明",
        "您好，您的合约即将到期，现在续约赠送200元话费",
        "合约续约",
    ),
    CallTask("case-5:2", "13987654321", None, "您好，宽带提速到1000M仅加10元", "宽带提速"),
]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))


def test_csv_export_masks_by_default() -> None:
    rows = read_csv(export_call_list(TASKS, file_format=FileFormat.CSV))
    assert rows[0] == ["编号", "号码", "姓名", "话术", "营销案", "结果", "备注", "外呼时间"]
    assert rows[1][:3] == ["case-5:1", "138****5678", "王**"]
    assert rows[2][:3] == ["case-5:2", "139****4321", ""]


def test_clear_export_shows_numbers_and_xlsx_holds_the_same_rows() -> None:
    data = export_call_list(TASKS, file_format=FileFormat.XLSX, clear=True)
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[1][:4] == ["case-5:1", "13812345678", "王小明", TASKS[0].script]


def fill(rows: list[list[str]], results: dict[str, list[str]]) -> bytes:
    """The exported CSV with result columns filled in, as a call centre returns it."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow(row[:5] + results[row[0]])
    return out.getvalue().encode("gb18030")  # saved by Excel on Chinese Windows


def test_round_trip_through_the_call_centre() -> None:
    exported = read_csv(export_call_list(TASKS, file_format=FileFormat.CSV))
    returned = fill(
        exported,
        {"case-5:1": ["成功", "同意续约", "2025-06-01 14:30"], "case-5:2": ["unreachable", "", ""]},
    )
    results = parse_results(returned, file="结果.csv", expected_keys={t.key: t for t in TASKS})
    assert [(r.key, r.outcome, r.notes) for r in results] == [
        ("case-5:1", CallOutcome.ACCEPTED, "同意续约"),
        ("case-5:2", CallOutcome.UNREACHABLE, ""),
    ]
    assert results[0].called_at == datetime(2025, 6, 1, 6, 30, tzinfo=UTC)  # 14:30 Beijing time


def test_every_bad_row_is_named_and_nothing_is_returned() -> None:
    data = (
        "编号,结果,备注,外呼时间\n"
        "case-5:1,成功,,\n"
        "case-5:1,拒绝,,\n"  # duplicate key
        "case-9:9,接通,,\n"  # not in the list
        "case-5:2,maybe,,\n"  # unknown outcome
        ",拒绝,,yesterday\n"  # no key, bad time
    ).encode()
    with pytest.raises(CallFileRejected) as caught:
        parse_results(data, file="r.csv", expected_keys={t.key: t for t in TASKS})
    found = [(p.row, p.column) for p in caught.value.problems]
    assert found == [(3, "编号"), (4, "编号"), (5, "结果"), (6, "编号"), (6, "外呼时间")]
    assert caught.value.problems[0].params == {"first": 2}
    assert caught.value.message.startswith(
        "r.csv: rejected with 5 problem(s), first: row 3, column 编号"
    )


def test_missing_outcome_column_is_refused() -> None:
    with pytest.raises(CallFileRejected, match="missing column 结果"):
        parse_results(b"key,notes\ncase-5:1,x\n", file="r.csv")


def test_xlsx_results_with_english_headers() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["key", "outcome", "notes"])
    sheet.append(["case-5:2", "declined", "已有宽带"])
    out = io.BytesIO()
    book.save(out)
    results = parse_results(out.getvalue(), file="r.xlsx")
    assert results == [
        parse_results("编号,结果,备注\ncase-5:2,拒绝,已有宽带\n".encode(), file="x")[0]
    ]
