"""A client generated from the live ``/openapi.json`` by an independent generator
(openapi-python-client) works: the generator warns about nothing, and the generated package
runs a whole flow against the running service with the names a person would write.

openapi-python-client pins an older Typer than the CLI's, so it lives in its own virtual
environment, ``.venv-codegen`` (``make test`` creates it; the version is pinned in the
Makefile; ``GENCREDITS_CODEGEN_VENV`` points elsewhere).  Without it the test is skipped,
except under ``CI=true``, where that is a failure.  The client is generated once a session.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from tests.api.conftest import LiveService

from gencredits.pricing import CatalogSet, quote

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("GENCREDITS_CODEGEN_VENV", ROOT / ".venv-codegen"))
GENERATOR = VENV / "bin" / "openapi-python-client"
PACKAGE = "gencredits_client"  # the document's title, as the generator names packages
#: No post-generation hooks (formatting): their absence would be the only warning.
CONFIG = "post_hooks: []\n"
KLING = {"model": "kling/v2-1-pro", "catalog": "api-pricing"}

pytestmark = pytest.mark.parametrize("live", ["sqlite"], indirect=True)


@pytest.fixture(scope="session")
def generated(live: LiveService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, imported (``gencredits_client``), and the generator's output."""
    if not GENERATOR.exists():
        message = f"{GENERATOR} is missing: run `make codegen-venv` (make test does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    where = tmp_path_factory.mktemp("codegen")
    document = httpx.get(live.url + "/openapi.json").json()
    (where / "openapi.json").write_text(json.dumps(document))
    (where / "config.yaml").write_text(CONFIG)
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(where / "openapi.json"),
            "--config",
            str(where / "config.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=where,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def test_the_generator_warns_about_nothing(generated: Any) -> None:
    _, output = generated
    assert "warning" not in output.lower(), output
    assert f"Generating {PACKAGE}" in output or PACKAGE in output


def test_a_whole_flow_through_the_generated_client(
    generated: Any, live: LiveService, keys: dict[str, str]
) -> None:
    package, _ = generated
    api = lambda name: module(package, f"api.{name}")  # noqa: E731
    models = module(package, "models")
    c = package.AuthenticatedClient(base_url=live.url, token=keys["billing"])
    key = lambda: uuid.uuid4().hex  # noqa: E731

    # quote: the library's price, lines that add up, the names without trailing underscores
    priced = api("catalog.create_quote").sync(
        client=c,
        body=models.QuoteCreate(
            **KLING, params=models.QuoteCreateParams.from_dict({"duration": 10})
        ),
    )
    assert isinstance(priced, models.QuotePublic)
    price = quote(CatalogSet.bundled()["api-pricing"], KLING["model"], {"duration": 10})
    assert priced.total_credits == price.total_credits
    assert sum(Decimal(line.line_credits) for line in priced.breakdown) == price.total_credits
    catalog = api("catalog.get_catalog").sync("api-pricing", client=c)
    assert catalog.content_hash == priced.catalog_hash

    # a wallet with credits for two jobs
    wallet = f"gen-{uuid.uuid4().hex[:10]}"
    made = api("wallets.create_wallet").sync_detailed(client=c, body=models.WalletCreate(id=wallet))
    assert made.status_code == 201 and made.parsed.id == wallet
    grant = api("grants.create_grant").sync(
        wallet,
        client=c,
        body=models.GrantCreate(amount=2 * price.total_credits, kind="purchase"),
        idempotency_key=key(),
    )
    assert isinstance(grant, models.GrantView) and grant.remaining == 2 * price.total_credits

    def submit(idempotency_key: str, duration: int = 10) -> Any:
        body = models.JobCreate(
            **KLING, params=models.JobCreateParams.from_dict({"duration": duration})
        )
        return api("jobs.submit_job").sync_detailed(
            wallet, client=c, body=body, idempotency_key=idempotency_key
        )

    # submit, complete; submit, fail
    first = submit(key()).parsed
    assert isinstance(first, models.JobView) and first.creditsUsed == price.total_credits
    done = api("jobs.complete_job").sync(
        first.id, client=c, body=models.JobComplete(), idempotency_key=key()
    )
    assert (done.state, done.status) == (
        models.JobViewState.SUCCEEDED,
        models.JobViewStatus.VALUE_1,
    )
    second_key = key()
    second = submit(second_key).parsed
    failed = api("jobs.fail_job").sync(
        second.id, client=c, body=models.JobFail(reason="provider timeout"), idempotency_key=key()
    )
    assert failed.state == models.JobViewState.FAILED and failed.reason == "provider timeout"

    # the wallet: one job charged, the failed one refunded
    shown = api("wallets.get_wallet").sync(wallet, client=c)
    assert (shown.available, shown.held) == (price.total_credits, 0)

    # a 402 and a 409 arrive as typed errors with their stable codes
    short = api("jobs.submit_job").sync_detailed(
        wallet,
        client=c,
        body=models.JobCreate(
            **KLING, params=models.JobCreateParams.from_dict({"duration": 10}), generations=2
        ),
        idempotency_key=key(),
    )
    assert short.status_code == 402 and isinstance(short.parsed, models.ErrorResponse)
    assert short.parsed.error.code == models.ErrorBodyCode.INSUFFICIENT_CREDITS
    clash = submit(second_key, duration=5)
    assert clash.status_code == 409 and isinstance(clash.parsed, models.ErrorResponse)
    assert clash.parsed.error.code == models.ErrorBodyCode.IDEMPOTENCY_CONFLICT

    # the job list, newest first, one page at a time; and oldest first
    def walk(read: Any, **how: Any) -> list[Any]:
        items, cursor = [], None
        while True:
            page = read(wallet, client=c, limit=1, **how, **({"cursor": cursor} if cursor else {}))
            items += page.items
            cursor = page.next_cursor
            if not cursor:
                return items

    jobs = walk(api("jobs.list_jobs").sync)
    assert [j.id for j in jobs] == [second.id, first.id]
    asc = walk(api("jobs.list_jobs").sync, order=models.ListJobsOrder.ASC)
    assert [j.id for j in asc] == [first.id, second.id]

    # the history, page by page, as the service's own JSON has it
    entries = walk(api("ledger.get_wallet_history").sync)
    raw = httpx.get(
        f"{live.url}/v1/wallets/{wallet}/history",
        params={"limit": 500},
        headers={"Authorization": f"Bearer {keys['billing']}"},
    ).json()["items"]
    assert [(e.id, e.kind.value, e.memo) for e in entries] == [
        (e["id"], e["kind"], e["memo"]) for e in raw
    ]
    assert [e.kind.value for e in entries] == ["release", "hold", "capture", "hold", "grant"]
    assert entries[0].memo == "provider timeout"
    assert all(sum(p.amount for p in e.postings) == 0 for e in entries)
