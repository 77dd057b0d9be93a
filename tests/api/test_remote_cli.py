"""The ledger commands against the live service (``--url``/``--api-key``): the same
commands an operator runs on the local database, through HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

from tests.api.conftest import LiveService

from gencredits.pricing import CatalogSet, quote

PRICE = quote(CatalogSet.bundled()["api-pricing"], "veo3_fast").total_credits


def gc(live: LiveService, key: str, *args: str, ok: bool = True) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "gencredits.cli", *args, "--url", live.url, "--api-key", key,
         "--json"],
        env={**live.env(), "GENCREDITS_DATABASE_URL": "sqlite:///nowhere/never-used.db"},
        cwd=live.workdir,
        capture_output=True,
        check=False,
    )  # fmt: skip
    assert (done.returncode == 0) is ok, done.stderr.decode()
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_the_ledger_cli_runs_against_a_remote_service(
    live: LiveService, keys: dict[str, str]
) -> None:
    wallet = f"cli-{uuid.uuid4().hex[:8]}"
    key = keys["billing"]
    assert gc(live, key, "wallet", "create", wallet)["id"] == wallet
    gc(live, key, "grant", wallet, "20", "--kind", "purchase", "--idempotency-key", "p1")
    job = gc(live, key, "job", "submit", wallet, "veo3_fast", "-c", "api-pricing", "-k", "j1")
    assert (job["status"], job["creditsUsed"]) == (0, PRICE)
    again = gc(live, key, "job", "submit", wallet, "veo3_fast", "-c", "api-pricing", "-k", "j1")
    assert again["id"] == job["id"] and again["replayed"] is True
    assert gc(live, key, "job", "complete", job["id"], "-k", "c1")["status"] == 1
    shown = gc(live, key, "wallet", "show", wallet)
    assert (shown["available"], shown["held"]) == (20 - PRICE, 0)
    assert len(gc(live, key, "ledger", wallet)["items"]) >= 3
    refused = gc(live, key, "audit", ok=False)  # a billing key may not audit
    assert refused["error"]["code"] == "forbidden"
    assert gc(live, keys["admin"], "audit") == {"clean": True, "violations": []}


def test_the_service_may_be_named_before_the_command_or_in_the_environment(
    live: LiveService, keys: dict[str, str]
) -> None:
    wallet = f"cle-{uuid.uuid4().hex[:8]}"
    env = {
        **live.env(),
        "GENCREDITS_DATABASE_URL": "sqlite:///nowhere/never-used.db",
        "GENCREDITS_URL": live.url,
        "GENCREDITS_API_KEY": keys["billing"],
    }
    made = subprocess.run(
        [sys.executable, "-m", "gencredits.cli", "wallet", "create", wallet, "--json"],
        env=env, cwd=live.workdir, capture_output=True, check=True,
    )  # fmt: skip
    assert json.loads(made.stdout)["id"] == wallet
    shown = subprocess.run(
        [sys.executable, "-m", "gencredits.cli", "--url", live.url, "--api-key", keys["read"],
         "wallet", "show", wallet],
        env=live.env(), cwd=live.workdir, capture_output=True, check=True,
    )  # fmt: skip
    assert shown.stdout.decode().startswith(f"wallet {wallet} (user): available 0")
