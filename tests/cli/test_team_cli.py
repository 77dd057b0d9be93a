"""``gencredits team ...`` on a SQLite file: a member's cap refuses a submission with the
402 family's exit code (5) and the error as JSON; the team's view shows the member's usage;
a removed member cannot submit, and their pending job still refunds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gencredits.cli import app

KLING = ["kling/v2-1-pro", "--catalog", "api-pricing", "--set", "duration=5"]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GENCREDITS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("GENCREDITS_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    return invoke


def test_team_members_caps_and_removal_from_the_command_line(run: Any) -> None:
    assert run("team", "create", "acme", "--anchor-day", "1", "--json")["outcome"] == "created"
    run("grant", "acme", "5000", "--kind", "purchase", "--json")
    added = run("team", "add", "acme", "ann", "--seat-credits", "10", "--json")
    assert (added["cap"], added["seat_left"]) == (None, 10)
    job = run("job", "submit", "acme", *KLING, "--submitted-by", "ann", "--json")
    capped = run("team", "add", "acme", "ann", "--cap", str(job["credits_held"]), "--json")
    assert capped["cap_left"] == 0
    refused = run("job", "submit", "acme", *KLING, "--submitted-by", "ann", "--json", code=5)
    assert refused["error"]["code"] == "member_cap_exceeded"
    assert refused["error"]["details"]["used"] == job["credits_held"]
    shown = run("team", "show", "acme", "--json")
    assert [m["used"] for m in shown["members"]] == [job["credits_held"]]
    assert "ann" in run("team", "show", "acme")
    assert run("team", "remove", "acme", "ann", "--json")["active"] is False
    gone = run("job", "submit", "acme", *KLING, "--submitted-by", "ann", "--json", code=6)
    assert gone["error"]["code"] == "not_a_member"
    assert run("job", "fail", job["id"], "--json")["state"] == "failed"
    assert run("team", "show", "acme", "--json")["members"][0]["used"] == 0
