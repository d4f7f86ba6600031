"""Audit rules: what is secret, how values are stored, diffs, and safe CSV cells."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from telmark.audit.domain import AuditAction, diff, is_secret, json_safe, mask_values, summarize
from telmark.consent.domain import Channel
from telmark.privacy.export import BOM, csv_cell, csv_chunks
from telmark.privacy.masking import PersonalKind


@pytest.mark.parametrize(
    "column",
    ["password", "password_hash", "token_hash", "csrf_token", "session_id", "api_secret", "salt"],
)
def test_secret_columns_by_name(column: str) -> None:
    assert is_secret(column)


@pytest.mark.parametrize(
    "column", ["password_changed_at", "prefix", "username", "hashtag_count", "id", "name"]
)
def test_ordinary_columns_are_not_secret(column: str) -> None:
    assert not is_secret(column)


def test_declared_columns_are_secret() -> None:
    assert is_secret("id", {"id"})


def test_json_safe_values() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert json_safe(
        {"at": moment, "day": date(2026, 1, 2), "amount": Decimal("1.50"), "ch": Channel.SMS}
    ) == {"at": "2026-01-02T03:04:05+00:00", "day": "2026-01-02", "amount": "1.50", "ch": "sms"}
    assert json_safe(b"\x00\x01") == "AAE="
    assert json_safe((1, {2})) == [1, [2]]


def test_summary_and_diff() -> None:
    assert summarize(AuditAction.UPDATE, "org_unit", "3", "C01") == "update org_unit #3 C01"
    assert summarize(AuditAction.CREATE, "user_role", "1", None) == "create user_role #1"
    changes = diff({"name": "a", "depth": 1}, {"name": "b", "depth": 1, "code": "X"})
    assert [(c.field, c.before, c.after, c.changed) for c in changes] == [
        ("name", "a", "b", True),
        ("depth", 1, 1, False),
        ("code", None, "X", True),
    ]


def test_mask_values_masks_only_personal_fields() -> None:
    fields = {"msisdn": PersonalKind.MSISDN}
    assert mask_values({"msisdn": "13812345678", "kind": "dnd"}, fields) == {
        "msisdn": "138****5678",
        "kind": "dnd",
    }
    assert mask_values(None, fields) is None


def test_csv_cells_defuse_formulas() -> None:
    assert csv_cell('=HYPERLINK("http://x")').startswith("'=")
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell(-5) == "-5"  # numbers stay numbers
    assert csv_cell(None) == ""
    assert csv_cell("王小明") == "王小明"


def test_csv_chunks_start_with_a_bom_and_read_back() -> None:
    rows = [[i, f"名字{i}"] for i in range(2500)]
    text = "".join(csv_chunks(["id", "name"], rows))
    assert text.startswith(BOM)
    parsed = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert parsed[0] == ["id", "name"]
    assert parsed[-1] == ["2499", "名字2499"]
    assert len(parsed) == 2501
