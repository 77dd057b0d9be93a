"""The audit streams a page of wallets at a time and can check one wallet, a range of
wallets, or the wallets changed since the cursor the previous audit gave; on each store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from gencredits.billing import Billing
from gencredits.billing.audit_run import run_audit
from gencredits.ledger.store import AuditScope

WALLETS = ("a", "b", "c", "d", "e")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def spoil_held(store: Any, wallet: str) -> None:
    if store.backend == "memory":
        store.wallets[wallet] = replace(store.wallets[wallet], held=0)
        return
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_wallets SET held = 0 WHERE id = :w"), {"w": wallet})


def test_scopes_pages_and_the_cursor(billing: Billing, store: Any, clock: Any) -> None:
    for w in WALLETS:
        billing.create_wallet(w)
        billing.grant(w, 100, kind="purchase", idempotency_key=f"g-{w}")
        billing.submit(w, "img", idempotency_key=f"s-{w}")
    first = billing.audit_scoped(AuditScope())
    assert (first.violations, first.wallets) == ([], len(WALLETS))
    spoil_held(store, "c")

    seen: list[int] = []
    run = store.reader()
    with run as reader:  # pages of two: progress after each, the same answer as one page
        paged = run_audit(reader, clock.now(), AuditScope(), page=2, progress=seen.append)
    assert seen == [2, 4, 5]
    assert [(v.code, v.subject) for v in paged.violations] == [("wallet_held_mismatch", "c")]
    assert billing.audit() == paged.violations

    assert billing.audit_scoped(AuditScope(wallet_from="a", wallet_to="b")).violations == []
    one = billing.audit_scoped(AuditScope(wallet_from="c", wallet_to="c"))
    assert (one.wallets, [v.subject for v in one.violations]) == (1, ["c"])
    tail = billing.audit_scoped(AuditScope(wallet_from="d"))
    assert (tail.wallets, tail.violations) == (2, [])

    billing.submit("e", "img", idempotency_key="s-e-2")  # only e changes after the cursor
    since = billing.audit_scoped(AuditScope(since=first.cursor))
    assert (since.wallets, since.violations) == (1, [])
    assert since.cursor > first.cursor
    assert billing.audit_scoped(AuditScope(since=since.cursor)).wallets == 0


def test_the_ledger_wide_sums_name_an_unknown_account_and_an_unbalanced_ledger(
    billing: Billing, store: Any, store_kind: str
) -> None:
    if store_kind == "memory":
        pytest.skip("the SQL sums are what this checks; memory sums its own lists")
    billing.create_wallet("a")
    billing.grant("a", 100, kind="purchase", idempotency_key="g")
    with store.engine.begin() as conn:  # a stray entry, on an account nobody owns
        seq = conn.execute(sa.text("SELECT max(seq) FROM ledger_transactions")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO ledger_entries (seq, wallet_id, tx_seq, account, amount)"
                " VALUES ((SELECT max(seq) + 1 FROM ledger_entries), 'a', :s, :a, 7)"
            ),
            {"s": seq, "a": "bogus:1"},
        )
    found = {(v.code, v.subject) for v in billing.audit()}
    assert ("unknown_account", "bogus:1") in found
    assert ("ledger_not_zero_sum", "ledger") in found
    assert any(code == "transaction_unbalanced" for code, _ in found)
    assert billing.audit_scoped(AuditScope(wallet_from="a")).violations != []  # its tx
