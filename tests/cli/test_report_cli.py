"""``gencredits report usage|margin|breakage`` on a SQLite file: tables and --json."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gencredits.cli import app

KLING = ["kling", "--catalog", "shared-credits", "--set", "duration=5", "--set", "resolution=720p"]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GENCREDITS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("GENCREDITS_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args else result.output

    return invoke


def test_reports_from_the_command_line(run: Any) -> None:
    run("wallet", "create", "w1", "--json")
    run("grant", "w1", "1000", "--kind", "purchase", "--json")
    first = run("job", "submit", "w1", *KLING, "--submitted-by", "ann", "--json")
    run("job", "complete", first["id"], "--json")
    second = run("job", "submit", "w1", *KLING, "--json")
    run("job", "fail", second["id"], "--json")
    usage = run("report", "usage", "--by", "member", "--json")
    rows = {r["member"]: r for r in usage["rows"]}
    assert (rows["ann"]["captured"], rows[""]["refunded"]) == (35, 35)
    assert Decimal(usage["total"]["failure_rate"]) == Decimal("0.5")
    table = run("report", "usage", "--by", "model,route")
    assert "kling" in table and "direct" in table
    margin = run("report", "margin", "--json")
    assert margin["credit_value"] is None  # nothing sold: no value, so no revenue
    assert [r["model"] for r in margin["rows"]] == ["kling"]
    assert run("report", "breakage", "--json")["credits_expired"] == 0
    refused = run("report", "usage", "--by", "planet", "--json", code=2)
    assert refused["error"]["details"]["field"] == "by"
