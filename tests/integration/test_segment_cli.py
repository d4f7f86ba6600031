"""``telmark segments count|schema``: validate a rule file and count it on the warehouse."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telmark.cli import app
from telmark.config import get_settings
from telmark.segments.compile import count
from telmark.segments.rules import parse_rule
from tests._factories.segments import load_warehouse, province_directory

RULE = {
    "version": 1,
    "root": {
        "all": [
            {"kind": "field", "field": "payment_type", "op": "=", "value": "prepaid"},
            {
                "kind": "usage",
                "measure": "arpu_fen",
                "agg": "avg",
                "months": 2,
                "op": ">=",
                "value": 1500,
            },
        ]
    },
}
YAML_RULE = """\
version: 1
root:
  all:
    - {kind: field, field: payment_type, op: "=", value: prepaid}
    - kind: usage
      measure: arpu_fen
      agg: avg
      months: 2
      op: ">="
      value: 1500
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int]:
    root = tmp_path_factory.mktemp("segment-cli")
    con = load_warehouse(province_directory(root, subscribers=800, seed=8), root / "w.duckdb")
    expected = count(con, parse_rule(RULE))
    july = count(con, parse_rule(RULE), as_of=date(2026, 7, 1))
    con.disconnect()
    return "duckdb://" + str(root / "w.duckdb"), expected, july


@pytest.fixture
def expected(warehouse: tuple[str, int, int], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse[0])
    get_settings.cache_clear()
    return warehouse[1], warehouse[2]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_count_json_and_yaml(expected: tuple[int, int], tmp_path: Path) -> None:
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(json.dumps(RULE), encoding="utf-8")
    code, out, err = _run("segments", "count", "--rule", str(rule_file), "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["count"] == expected[0] > 0
    assert body["as_of"] == "2026-09-01"
    assert body["rule"] == RULE

    yaml_file = tmp_path / "rule.yaml"
    yaml_file.write_text(YAML_RULE, encoding="utf-8")
    code, out, err = _run("segments", "count", "--rule", str(yaml_file), "--as-of", "2026-07")
    assert code == 0, err
    assert f"{expected[1]:,} lines match" in out
    assert "as of 2026-07" in out


@pytest.mark.usefixtures("expected")
def test_invalid_rule_names_the_file_and_node(tmp_path: Path) -> None:
    tenure = {"kind": "tenure_months", "op": "in", "value": 3}
    bad = {"version": 1, "root": {"all": [{"kind": "household", "has": "iptv"}, tenure]}}
    rule_file = tmp_path / "bad.json"
    rule_file.write_text(json.dumps(bad), encoding="utf-8")
    code, out, err = _run("segments", "count", "--rule", str(rule_file))
    assert code == 2
    assert out == ""
    assert str(rule_file) in err
    assert "root.all[1].op" in err

    code, _, err = _run("segments", "count", "--rule", str(tmp_path / "missing.json"))
    assert code == 2
    assert "missing.json: cannot read the rule file" in err


def test_schema_prints_the_json_schema() -> None:
    code, out, _ = _run("segments", "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "telmark segment rule"
    assert "UsageCondition" in schema["$defs"]
