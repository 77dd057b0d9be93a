"""The ledger commands end to end on a SQLite file: JSON answers, exit codes, audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from gencredits.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("GENCREDITS_DATABASE_URL", url)
    monkeypatch.delenv("GENCREDITS_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    invoke.url = url  # type: ignore[attr-defined]
    return invoke


def test_wallet_grant_job_lifecycle_and_history(run: Any) -> None:
    assert run("wallet", "create", "alice", "--json")["available"] == 0
    g = run("grant", "alice", "100", "--kind", "purchase", "-k", "pay-1", "--json")
    assert (
        run("grant", "alice", "100", "--kind", "purchase", "-k", "pay-1", "--json")["id"] == g["id"]
    )
    job = run(
        "job",
        "submit",
        "alice",
        "sora-2-text-to-video",
        "--catalog",
        "api-pricing",
        "--set",
        "duration=8",
        "--set",
        "resolution=1080p",
        "-n",
        "2",
        "-k",
        "s1",
        "--json",
    )
    assert (job["status"], job["creditsUsed"], job["catalog"]) == (0, 30, "api-pricing")
    done = run("job", "complete", job["id"], "--generations", "1", "-k", "c1", "--json")
    assert (done["status"], done["creditsUsed"]) == (1, 15)
    assert run("job", "fail", job["id"], "-k", "f1", "--json")["outcome"] == "already_succeeded"
    assert run("job", "show", job["id"], "--json")["state"] == "succeeded"
    wallet = run("wallet", "show", "alice", "--json")
    assert (wallet["available"], wallet["held"]) == (85, 0)
    history = run("ledger", "alice", "--json")
    assert [e["kind"] for e in history["items"]] == ["capture", "hold", "grant"]
    assert run("sweep", "--json")["holds_released"] == 0
    audit = run("audit", "--json")
    assert (audit["clean"], audit["violations"], audit["wallets"]) == (True, [], 1)
    assert audit["cursor"] > 0  # the --since of the next audit
    again = run("audit", "--since", str(audit["cursor"]), "--json")
    assert (again["clean"], again["wallets"], again["cursor"]) == (True, 0, audit["cursor"])
    assert run("audit", "--wallet", "alice", "--json")["wallets"] == 1
    assert "alice" in run("wallet", "list")


def test_errors_exit_non_zero_with_the_code(run: Any) -> None:
    run("wallet", "create", "bob")
    err = run("job", "submit", "bob", "gpt-image-2", "--json", code=5)
    assert err["error"]["code"] == "insufficient_credits"
    assert err["error"]["details"]["shortfall"] == 3
    assert run("job", "show", "job_nope", "--json", code=3)["error"]["code"] == "job_not_found"
    bad = run("grant", "bob", "5", "--kind", "gift", "--json", code=2)
    assert bad["error"]["details"]["field"] == "kind"


def test_a_setting_without_an_equals_sign_is_refused_and_nothing_is_held(run: Any) -> None:
    run("wallet", "create", "eve")
    run("grant", "eve", "100", "--kind", "purchase", "-k", "g1")
    for option in ("--set", "--meta"):
        err = run("job", "submit", "eve", "gpt-image-2", option, "duration", "--json", code=2)
        assert err["error"]["details"]["field"] == option
        assert "KEY=VALUE" in err["error"]["details"]["allowed"]
    wallet = run("wallet", "show", "eve", "--json")
    assert (wallet["available"], wallet["held"]) == (100, 0)


def test_audit_exits_1_naming_each_violation(run: Any) -> None:
    run("wallet", "create", "carol")
    run("grant", "carol", "50", "--kind", "bonus", "-k", "g")
    engine = sa.create_engine(run.url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_grants SET remaining = 70"))
    engine.dispose()
    out = run("audit", code=1)
    assert "grant_balance_mismatch" in out and "grant_remaining_out_of_range" in out
    report = run("audit", "--json", code=1)
    assert report["clean"] is False and len(report["violations"]) >= 2


def test_the_shared_options_go_before_or_after_the_command(run: Any, tmp_path: Path) -> None:
    run("wallet", "create", "dan")
    assert run("--database-url", run.url, "wallet", "show", "dan", "--json")["id"] == "dan"
    assert run("wallet", "show", "dan", f"--database-url={run.url}", "--json")["id"] == "dan"
    other = f"sqlite:///{tmp_path}/other.db"  # the option wins over $GENCREDITS_DATABASE_URL
    run("--database-url", other, "db", "upgrade")  # a read never creates it
    assert run("wallet", "list", "--database-url", other, "--json")["items"] == []
    assert run("--database-url", other, "wallet", "list", "--json")["items"] == []


def test_what_a_command_opens_is_closed_when_it_ends(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gencredits.billing import Billing

    closed: list[object] = []
    close = Billing.close

    def counting_close(self: Billing) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(Billing, "close", counting_close)
    run("wallet", "create", "fay")
    run("grant", "fay", "5", "--kind", "bonus", "-k", "g")
    assert len(closed) == 2
    run("job", "show", "job_nope", "--json", code=3)  # ended by an error: closed as well
    assert len(closed) == 3
    run("quote", "veo3_fast", "-c", "api-pricing")  # a pricing command opens nothing
    assert len(closed) == 3
