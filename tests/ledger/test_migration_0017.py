"""Migration 0017 on a ledger that holds data: the counters keep their values and gain their
bucket's anchor, the usage totals gain one anchor, every sum read (the /metrics gauges, the
usage totals) is what it was; and back again, the groups' usage rows summed into one."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from tests.ledger.conftest import columns

from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.ledger.store import open_store
from gencredits.shards import ANCHORS, group_of
from gencredits.storage.sql import engine as db
from gencredits.storage.sql.counters import read_gauges, scan_gauges

BEFORE = "0016_citus_keys"
WALLETS = [f"w{i}" for i in range(12)]
TOTALS = (
    "SELECT day, model, mode, route, currency, SUM(jobs), SUM(held), SUM(captured),"
    " SUM(refunded) FROM report_usage_total GROUP BY day, model, mode, route, currency"
)


def _work(url: str, catalogs: Any, tag: str) -> None:
    """Jobs on every wallet: some completed, some failed, some left pending."""
    store = open_store(url)
    try:
        billing = Billing(store, catalogs, ManualClock())
        for n, wallet in enumerate(WALLETS):
            if tag == "first":
                billing.create_wallet(wallet, idempotency_key=f"make-{wallet}")
                billing.grant(wallet, 1000, kind="purchase", idempotency_key="fund")
            job = billing.submit(wallet, "img", idempotency_key=f"{tag}-a")
            billing.complete(job.id, idempotency_key=f"{tag}-done")
            job = billing.submit(wallet, "img", idempotency_key=f"{tag}-b")
            if n % 2:
                billing.fail(job.id, idempotency_key=f"{tag}-failed")
        assert billing.audit() == []
    finally:
        store.close()


def _totals(conn: sa.Connection) -> set[tuple[Any, ...]]:
    return {
        tuple(int(v) if i > 4 else v for i, v in enumerate(row))
        for row in conn.execute(sa.text(TOTALS))
    }


def test_0017_fills_anchors_and_every_sum_stays(backend_url: str, ledger_catalogs: Any) -> None:
    url = backend_url
    _work(url, ledger_catalogs, "first")
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            gauges, totals = read_gauges(conn), _totals(conn)
            assert gauges == scan_gauges(conn) and gauges["holds_open"] == len(WALLETS) // 2
            groups = conn.execute(
                sa.text("SELECT count(DISTINCT anchor) FROM report_usage_total")
            ).scalar()
        assert groups == len({group_of(w) for w in WALLETS}) > 1
        db.downgrade(url, BEFORE)  # 0016: no anchors; the groups' usage summed into one row
        assert "anchor" not in columns(engine, "ledger_counters")
        assert "anchor" not in columns(engine, "report_usage_total")
        with engine.begin() as conn:
            assert _totals(conn) == totals
            assert read_gauges(conn) == gauges
            values = dict(
                conn.execute(
                    sa.text("SELECT name || '/' || bucket, value FROM ledger_counters")
                ).all()
            )
        assert len(values) == 4 * 32
        db.upgrade(url)
        with engine.begin() as conn:
            counters = conn.execute(
                sa.text("SELECT name || '/' || bucket, bucket, anchor, value FROM ledger_counters")
            ).all()
            anchors = conn.execute(sa.text("SELECT DISTINCT anchor FROM report_usage_total"))
            assert {a for (a,) in anchors} == {ANCHORS[0]}
            assert _totals(conn) == totals
            assert read_gauges(conn) == gauges
    finally:
        engine.dispose()
    assert {key: value for key, _b, _a, value in counters} == values
    assert all(anchor == ANCHORS[bucket] for _k, bucket, anchor, _v in counters)
    _work(url, ledger_catalogs, "second")  # the ledger goes on, adding to the groups' rows
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            assert read_gauges(conn) == scan_gauges(conn)
            assert read_gauges(conn)["holds_open"] == len(WALLETS)
            jobs = conn.execute(sa.text("SELECT SUM(jobs) FROM report_usage_total")).scalar()
        assert jobs == 4 * len(WALLETS)
    finally:
        engine.dispose()
