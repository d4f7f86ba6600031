"""``telmark analysis churn``: train, score, list, show and activate from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from telmark.cli import app
from telmark.config import get_settings
from telmark.dbcli import upgrade_database
from tests._factories.churn import churn_warehouse

runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return churn_warehouse(tmp_path_factory.mktemp("churn-cli"), subscribers=6_000, months=3)


def test_train_score_list_show_and_activate(
    warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELMARK_WAREHOUSE_URL", warehouse_url)
    get_settings.cache_clear()
    upgrade_database()

    trained = runner.invoke(app, ["analysis", "churn", "train", "--json"])
    assert trained.exit_code == 0, trained.output
    model = json.loads(trained.output)
    assert model["version"] == 1
    assert model["trained_by"].startswith("cli:")
    assert Path(model["artifact_path"]) == get_settings().data_dir / "models" / "churn-1.joblib"

    scored = runner.invoke(app, ["analysis", "churn", "score", "--json"])
    assert scored.exit_code == 0, scored.output
    run = json.loads(scored.output)
    assert run["model_version"] == 1
    assert sum(run["bands"].values()) == run["rows"]

    listed = json.loads(runner.invoke(app, ["analysis", "churn", "models", "--json"]).output)
    assert [(m["version"], m["status"], m["scored_rows"]) for m in listed] == [
        (1, "active", run["rows"])
    ]
    shown = runner.invoke(app, ["analysis", "churn", "show", "1"])
    assert shown.exit_code == 0
    assert "Holdout AUC" in shown.output
    assert "tenure-only baseline" in shown.output

    again = runner.invoke(app, ["analysis", "churn", "activate", "1"])
    assert again.exit_code == 2
    assert "already the active model" in again.output
    missing = runner.invoke(app, ["analysis", "churn", "show", "7"])
    assert missing.exit_code == 2
    assert "no churn model version 7" in missing.output
