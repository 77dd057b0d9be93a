"""The tick's set-based renewals (billing/renewals.py): the same rows as the per-subscription
path, each cycle once under two tickers at once, and catch-up beside them.

On SQLite and on the real PostgreSQL (each behind group commit too, which hands the tick's
units to the plain store) and the in-memory reference store.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from tests.pg import create_pg_database, drop_pg_database, pg_url

from gencredits.billing import Billing, renewals
from gencredits.clock import ManualClock
from gencredits.plans import parse_plans
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.engine import make_engine

from .test_scenarios import PLANS, START

#: cycle 1 of every subscription started at START (31 January) began on 28 February
ONE_DUE = datetime(2027, 3, 1, tzinfo=UTC)
#: cycles 1, 2 and 3 began by then (28 February, 31 March, 30 April)
THREE_DUE = datetime(2027, 5, 1, tzinfo=UTC)


@pytest.fixture
def urls(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[str, str]]:
    """Two empty databases of the backend asked for."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
        return
    names = [create_pg_database(), create_pg_database()]
    try:
        yield pg_url(names[0]), pg_url(names[1])
    finally:
        for name in names:
            drop_pg_database(name)


@pytest.fixture
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """One empty database of the backend asked for."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/tick.db"
    found: str = request.getfixturevalue("postgres_url")
    return found


def _billing(url: str, catalogs: Any, when: datetime, *, group_commit: bool = False) -> Billing:
    plans = parse_plans(PLANS, "test-plans")
    return Billing.from_url(
        url, catalogs, ManualClock(when), plans=plans, group_commit=group_commit
    )


def _subscribe_all(b: Billing) -> None:
    """Eight wallets: reset plans with and without a bonus, a wallet with two subscriptions,
    and the cases the set leaves to the per-subscription path (rollover, cancelled, a
    pending downgrade)."""
    for i, plan in enumerate(["starter", "starter", "pro", "yearly", "starter"]):
        b.create_wallet(f"w{i}")
        b.subscribe(f"w{i}", plan, idempotency_key="s")
    b.subscribe("w4", "pro", idempotency_key="second")  # two subscriptions, one wallet
    b.create_wallet("w5")
    b.subscribe("w5", "roll", idempotency_key="s")
    b.create_wallet("w6")
    (sub,) = [b.subscribe("w6", "starter", idempotency_key="s")]
    b.cancel_subscription(sub.id, idempotency_key="c")
    b.create_wallet("w7")
    sub = b.subscribe("w7", "pro", idempotency_key="s")
    b.change_plan(sub.id, "starter", idempotency_key="down")


def _dump(url: str) -> dict[str, Any]:
    """Every row of every table, without the numbers the database assigns (seq, txid):
    entries named by their transaction's id, events in their order per wallet."""
    engine = make_engine(url)
    out: dict[str, Any] = {}
    with engine.connect() as c:
        for table in t.metadata.sorted_tables:  # every table (report rollups included)
            if table in (t.entries, t.outbox):
                continue
            cols = [col for col in table.c if col.name not in ("seq", "txid")]
            out[table.name] = sorted(repr(tuple(r)) for r in c.execute(sa.select(*cols)))
        tx, en = t.transactions, t.entries
        q = sa.select(tx.c.id, en.c.account, en.c.amount).join(en, en.c.tx_seq == tx.c.seq)
        out["ledger_entries"] = sorted(repr(tuple(r)) for r in c.execute(q))
        ob = t.outbox
        cols = [col for col in ob.c if col.name not in ("seq", "txid")]
        events: dict[str, list[str]] = defaultdict(list)
        for r in c.execute(sa.select(*cols).order_by(ob.c.seq)):
            events[r.wallet_id].append(repr(tuple(r)))
        out["ledger_outbox"] = dict(events)
    engine.dispose()
    return out


class _Sets:
    """Counts what the tick renewed as sets (to check the set path ran)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.renewed = 0
        self.lock = threading.Lock()
        real = renewals.renew_set

        def counted(*args: Any, **kwargs: Any) -> int:
            n = real(*args, **kwargs)
            with self.lock:
                self.renewed += n
            return n

        monkeypatch.setattr(renewals, "renew_set", counted)


@pytest.mark.parametrize("urls", ["sqlite", "postgresql"], indirect=True)
def test_the_set_writes_the_rows_of_the_per_subscription_path(
    urls: tuple[str, str], ledger_catalogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = []
    for url, as_set in zip(urls, (True, False), strict=True):
        setup = _billing(url, ledger_catalogs, START)
        _subscribe_all(setup)
        setup.close()
        with monkeypatch.context() as m:
            sets = _Sets(m)
            if not as_set:
                m.setattr(renewals, "is_plain", lambda *_args: False)
            ticker = _billing(url, ledger_catalogs, ONE_DUE, group_commit=True)
            reports.append(ticker.tick(batch=3))
            assert ticker.audit() == []
            ticker.close()
        # six subscriptions on reset plans, one cycle due each: the set; the others not
        assert sets.renewed == (6 if as_set else 0)
    assert reports[0] == reports[1]
    assert reports[0].cycles_granted == 8 and reports[0].ended == 1
    first, second = _dump(urls[0]), _dump(urls[1])
    for table in first:
        assert first[table] == second[table], table


@pytest.mark.parametrize("group_commit", [False, True])
@pytest.mark.parametrize("url", ["sqlite", "postgresql"], indirect=True)
def test_two_tickers_at_once_renew_each_set_once(
    url: str, group_commit: bool, ledger_catalogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = _billing(url, ledger_catalogs, START)
    for i in range(24):
        setup.create_wallet(f"w{i:03}")
        setup.subscribe(f"w{i:03}", "pro" if i % 3 else "starter", idempotency_key="s")
    sets = _Sets(monkeypatch)
    tickers = [_billing(url, ledger_catalogs, ONE_DUE, group_commit=group_commit) for _ in "ab"]
    barrier = threading.Barrier(len(tickers))
    reports: list[Any] = []
    errors: list[BaseException] = []

    def tick(b: Billing) -> None:
        barrier.wait()
        try:
            for _ in range(2):
                reports.append(b.tick(batch=6))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(b,)) for b in tickers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.cycles_granted for r in reports) == 24 == sets.renewed
    for i in range(24):
        (sub,) = setup.list_subscriptions(f"w{i:03}")
        assert [c.number for c in setup.get_subscription(sub.id).cycles] == [0, 1]
        grants = setup.list_grants(f"w{i:03}", limit=50).items
        assert len(grants) == (4 if i % 3 else 2)  # allowance (and bonus) of two cycles
    assert setup.audit() == []
    for b in (setup, *tickers):
        b.close()


@pytest.mark.parametrize("url", ["sqlite", "postgresql"], indirect=True)
def test_catch_up_beside_the_set_grants_each_missed_cycle_once(
    url: str, ledger_catalogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription three cycles behind (the tick was down) in the same tick as ones due
    once: each of its cycles is granted once with the expiry it would have had; the next
    month it renews with the set."""
    b = _billing(url, ledger_catalogs, START)
    b.create_wallet("late")
    late = b.subscribe("late", "starter", idempotency_key="s")
    b.close()
    b = _billing(url, ledger_catalogs, datetime(2027, 4, 15, tzinfo=UTC))
    for i in range(5):
        b.create_wallet(f"w{i}")
        b.subscribe(f"w{i}", "starter", idempotency_key="s")  # anchored on 15 April
    b.close()
    sets = _Sets(monkeypatch)
    b = _billing(url, ledger_catalogs, datetime(2027, 5, 16, tzinfo=UTC), group_commit=True)
    report = b.tick()
    assert report.cycles_granted == 3 + 5 and sets.renewed == 5  # the late one: not the set
    cycles = b.get_subscription(late.id).cycles
    assert [c.number for c in cycles] == [0, 1, 2, 3]
    expected_ends = [
        datetime(2027, 2, 28, 12, tzinfo=UTC),
        datetime(2027, 3, 31, 12, tzinfo=UTC),
        datetime(2027, 4, 30, 12, tzinfo=UTC),
        datetime(2027, 5, 31, 12, tzinfo=UTC),
    ]
    assert [c.ends_at for c in cycles] == expected_ends
    expiries = sorted(g.expires_at for g in b.list_grants("late", limit=50).items)
    assert expiries == expected_ends
    assert b.tick().cycles_granted == 0
    b.close()
    b = _billing(url, ledger_catalogs, datetime(2027, 6, 1, tzinfo=UTC), group_commit=True)
    assert b.tick().cycles_granted == 1 and sets.renewed == 6  # now one due: the set
    assert b.audit() == []
    b.close()


def test_the_memory_store_renews_the_set_as_the_reference(
    ledger_catalogs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gencredits.ledger import MemoryStore

    plans = parse_plans(PLANS, "test-plans")
    clock = ManualClock(START)
    b = Billing(MemoryStore(), ledger_catalogs, clock, plans=plans)
    _subscribe_all(b)
    sets = _Sets(monkeypatch)
    clock.set(ONE_DUE)
    report = b.tick(batch=4)
    assert (report.cycles_granted, report.ended, sets.renewed) == (8, 1, 6)
    assert b.get_wallet("w2").available == 4000 + 500  # cycle 0 expired on 28 February
    assert b.tick().cycles_granted == 0
    assert b.audit() == []
