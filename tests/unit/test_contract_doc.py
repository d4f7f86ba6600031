"""docs/data-contract.md documents every table and column of the contract, as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from telmark.warehouse.contract import CONTRACT, TRUTH, TableSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
SPECS = [*CONTRACT.values(), *TRUTH.values()]


def sections() -> dict[str, str]:
    """Each ``### `table` `` section of the document, by table name."""
    found: dict[str, str] = {}
    parts = re.split(r"^### ", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        table = re.fullmatch(r"`([a-z_]+)`", heading.strip())
        if table:
            found[table.group(1)] = body.split("\n## ")[0]
    return found


def column_rows(section: str) -> dict[str, list[str]]:
    """Cells of each row of a section's column table, by column name."""
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([a-z0-9_]+)` \|", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return rows


def test_every_table_has_a_section() -> None:
    assert sorted(sections()) == sorted(spec.name for spec in SPECS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_column_is_documented_as_defined(spec: TableSpec) -> None:
    section = sections()[spec.name]
    rows = column_rows(section)
    assert list(rows) == list(spec.column_names), "columns missing, extra or out of order"
    key = ", ".join(f"`{k}`" for k in spec.key)
    assert f"Key: {key}." in section
    for column in spec.columns:
        _, kind, required, rules, reference, personal, description = rows[column.name]
        assert kind == column.type.value, column.name
        assert required == ("yes" if column.required else "no"), column.name
        expected = f"`{column.references[0]}.{column.references[1]}`" if column.references else ""
        assert reference == expected, column.name
        assert personal == ("yes" if column.personal else ""), column.name
        assert description, column.name
        for value in column.allowed or ():
            assert f"`{value}`" in rules, (column.name, value)
        if column.pattern:
            assert column.pattern in rules, column.name
