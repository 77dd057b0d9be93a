"""The plan commands from a terminal: plans, subscribe, purchase, refund, freeze, tick."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gencredits.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GENCREDITS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("GENCREDITS_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output)
        return json.loads(result.stdout) if "--json" in args and code == 0 else result

    return invoke


def test_plans_table_and_json(run: Any) -> None:
    table = run("plans").output
    assert "starter" in table and "0.008000" in table and "USD per credit" in table
    data = run("plans", "--json")
    assert {p["id"] for p in data["plans"]} >= {"free", "starter", "pro", "business"}
    assert len(data["packs"]) == 3


def test_subscribe_buy_chargeback_freeze_unfreeze(run: Any) -> None:
    run("wallet", "create", "u")
    sub = run("subscribe", "u", "starter", "-k", "s1", "--json")
    assert sub["plan"] == "starter" and sub["state"] == "active"
    assert run("subscribe", "u", "starter", "-k", "s1", "--json")["replayed"] is True
    shown = run("subscription", "show", sub["id"], "--json")
    assert [c["granted"] for c in shown["cycles"]] == [1250]
    changed = run("subscription", "change", sub["id"], "pro", "-k", "up", "--json")
    assert changed["outcome"] == "immediate"
    bought = run("purchase", "buy", "u", "large", "--purchase-id", "pay-9", "-k", "p", "--json")
    assert (bought["pack_credits"], bought["bonus_credits"]) == (10000, 2000)
    back = run("purchase", "refund", "pay-9", "--chargeback", "-k", "cb", "--json")
    assert (back["state"], back["taken_back"]) == ("charged_back", 12000)
    refused = run("job", "submit", "u", "nano-banana", "-k", "j", code=8)
    assert "wallet_frozen" in refused.output
    assert run("unfreeze", "u", "-k", "lift", "--json")["frozen"] is None
    assert run("freeze", "u", "--reason", "review", "-k", "f", "--json")["frozen"] == "review"
    cancelled = run("subscription", "set", sub["id"], "cancel", "-k", "c", "--json")
    assert cancelled["state"] == "cancelled"
    assert run("tick", "--json")["cycles_granted"] == 0
    assert run("tick", "--now", "2099-01-01T00:00Z", "--json")["ended"] == 1


def test_buy_prints_its_line(run: Any) -> None:
    run("wallet", "create", "u")
    out = run("purchase", "buy", "u", "large", "--purchase-id", "pay-1", "-k", "b").output
    assert "purchase pay-1: 10000 credits + 2000 bonus to u (purchased)" in out


def test_a_partial_refund_from_the_terminal(run: Any) -> None:
    """large: 10,000 + 2,000 bonus for 80.00; 20.00 refunded so far is a quarter."""
    run("wallet", "create", "u")
    run("purchase", "buy", "u", "large", "--purchase-id", "pay-7", "-k", "p", "--json")
    part = run("purchase", "refund", "pay-7", "--amount", "20.00", "-k", "r1", "--json")
    assert (part["outcome"], part["state"], part["taken_back"]) == (
        "partially_refunded",
        "paid",
        3000,
    )
    bad = run("purchase", "refund", "pay-7", "--amount", "lots", "-k", "r2", code=2)
    assert "amount" in bad.output and "lots" in bad.output
    rest = run(
        "purchase", "refund", "pay-7", "--amount", "2000", "--of", "2000", "-k", "r3", "--json"
    )
    assert (rest["state"], rest["taken_back"]) == ("refunded", 12000)
