"""Migration 0016 on a ledger that holds data: ``wallet_id`` filled into the entries (from
their transactions) and the idempotency records (from their scopes), the keys rebuilt, the
audit clean, and the ledger numbering its new rows after the old ones; and back again."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from tests.ledger.conftest import columns

from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.ledger.store import open_store
from gencredits.storage.sql import engine as db

BEFORE = "0015_idempotency_retention"


def _fill(url: str, catalogs: Any) -> dict[str, str]:
    """Wallets, grants, a job run to its end, a voided grant: records of every kind of
    scope.  Returns each scope's wallet."""
    store = open_store(url)
    try:
        billing = Billing(store, catalogs, ManualClock())
        scopes = {}
        for wallet in ("a", "b"):
            billing.create_wallet(wallet, idempotency_key=f"make-{wallet}")
            billing.grant(wallet, 100, kind="purchase", idempotency_key="fund")
            scopes[f"wallet:{wallet}"] = wallet
        job = billing.submit("a", "img", idempotency_key="s")
        billing.complete(job.id, idempotency_key="done")
        grant = billing.grant("b", 5, kind="promotional", idempotency_key="promo")
        billing.void_grant(grant.id, idempotency_key="void")
        scopes.update({f"job:{job.id}": "a", f"grant:{grant.id}": "b"})
        return scopes
    finally:
        store.close()


def test_0016_fills_wallet_ids_and_the_ledger_goes_on(
    backend_url: str, ledger_catalogs: Any
) -> None:
    url = backend_url
    scopes = _fill(url, ledger_catalogs)
    db.downgrade(url, BEFORE)  # the ledger as 0015 had it: no wallet_id in these two
    engine = db.make_engine(url)
    try:
        assert "wallet_id" not in columns(engine, "ledger_entries")
        assert "wallet_id" not in columns(engine, "ledger_idempotency")
        with engine.begin() as conn:
            last = conn.execute(sa.text("SELECT max(seq) FROM ledger_transactions")).scalar()
            entries = conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar()
        db.upgrade(url)
        with engine.begin() as conn:
            records = dict(
                conn.execute(sa.text("SELECT scope, wallet_id FROM ledger_idempotency")).all()
            )
            mismatched = conn.execute(
                sa.text(
                    "SELECT count(*) FROM ledger_entries e LEFT JOIN ledger_transactions t"
                    " ON t.wallet_id = e.wallet_id AND t.seq = e.tx_seq WHERE t.id IS NULL"
                )
            ).scalar()
            assert conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar() == entries
    finally:
        engine.dispose()
    assert {scope: records[scope] for scope in scopes} == scopes
    assert mismatched == 0
    store = open_store(url)
    try:
        billing = Billing(store, ledger_catalogs, ManualClock())
        assert billing.audit() == []
        job = billing.submit("b", "img", idempotency_key="after")  # numbered after the old rows
        again = billing.submit("b", "img", idempotency_key="after")
        assert again.id == job.id and again.replayed
        history = billing.history("b", limit=100)
        assert billing.audit() == []
    finally:
        store.close()
    assert last is not None and max(int(tx.seq) for tx in history.items) > last
