"""Reports over a million jobs: usage, margin and breakage answered from the rollups, timed
on SQLite and PostgreSQL, for the last 30 days and for all time.

The bulk loader writes what the write path writes, without running a unit of work per job:
each job is built as the service builds it (a quote from the bundled catalogs, ``Job`` values
before and after its outcome, the ``hold`` and ``capture``/``release``/``timeout``
transactions from :mod:`gencredits.ledger.postings`), turned into rows by the store's own row
functions, and its rollups are computed by the write path's own functions
(:func:`gencredits.billing.usage.job_changed`, ``sold``, ``expired``) into an in-memory sink,
then upserted once.  Wallets get a base grant, and a pack bought every month (its credits and
its bonus, which expires unused three months later: breakage).  Rows are written in bulk
(SQLite: ``executemany``; PostgreSQL: ``COPY``).  A check at the end compares the rollups'
captured credits with a full scan of the ledger's entries (and times that scan).

    .venv/bin/python bench/reports.py --backend sqlite --jobs 1000000
    .venv/bin/python bench/reports.py --backend postgresql --jobs 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdb import fresh_database
from gencredits.billing import usage
from gencredits.ledger import postings
from gencredits.ledger.model import (
    Grant,
    HoldLeg,
    Job,
    Posting,
    Wallet,
    evolve,
    grant_account,
)
from gencredits.ledger.postings import Charge, Key
from gencredits.ledger.records import Purchase
from gencredits.ledger.rollups import Rollup, add_counts, day_of, month_of
from gencredits.ledger.store import WriteUnit, open_store
from gencredits.pricing import quote
from gencredits.reports import (
    ReportQuery,
    breakage_report,
    margin_report,
    usage_report,
)
from gencredits.shards import anchor_of
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.plans import purchase_row
from gencredits.storage.sql.rollups import upsert_rollups
from gencredits.storage.sql.rows import grant_row, job_row, transaction_row, wallet_row
from gencredits.storage.sql.schema import sqlite_utc_text

START = datetime(2025, 12, 1, tzinfo=UTC)
#: (catalog, model, params, share of jobs): costed routes, and one model with no cost
MIX = (
    ("shared-credits", "kling", {"duration": 5, "resolution": "720p"}, 30),
    ("shared-credits", "kling", {"duration": 10, "resolution": "1080p", "route": "third-party"}, 8),
    ("shared-credits", "seedance-style", {"duration": 5, "resolution": "1080p"}, 15),
    (
        "shared-credits",
        "seedance-style",
        {"duration": 5, "resolution": "1080p", "route": "premium"},
        5,
    ),
    ("shared-credits", "image-standard", {}, 20),
    ("shared-credits", "image-pro", {"resolution": "2K"}, 12),
    ("video-studio", "happy-horse", {"duration": 5, "resolution": "720p"}, 10),
)
OUTCOMES = (("succeeded", 85), ("failed", 8), ("cancelled", 3), ("timed_out", 4))


class RollupSink:
    """The one port method the rollup functions call, summing in memory."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}

    def add_rollup(self, rollup: Rollup) -> None:
        name = (rollup.family, rollup.key)
        self.rows[name] = add_counts(self.rows.get(name), rollup.counts)


class Writer:
    """Bulk rows into one table: SQLite by executemany, PostgreSQL by COPY."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"

    def write(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = list(rows[0])
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if self.pg:
                sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
                with cur.copy(sql) as copy:
                    for row in rows:
                        copy.write_row([_value(row[n], False) for n in names])
            else:
                cur.execute("BEGIN")  # the engine's connections do not begin on their own
                marks = ", ".join("?" for _ in names)
                sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
                cur.executemany(sql, [[_value(row[n], True) for n in names] for row in rows])
            raw.commit()
        finally:
            raw.close()


def _value(value: Any, sqlite: bool) -> Any:
    """A value as the store's column types write it (JSON as text; SQLite: instants as
    UTC text and decimals as text)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if sqlite and isinstance(value, datetime):
        return sqlite_utc_text(value)
    if sqlite and isinstance(value, Decimal):
        return str(value)
    return value


def _quotes() -> list[tuple[Any, int]]:
    return [(quote(cat, model, params), share) for cat, model, params, share in MIX]


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    total = sum(w for _, w in weighted)
    roll = rng.randrange(total)
    for item, weight in weighted:
        if roll < weight:
            return item
        roll -= weight
    raise AssertionError


def _job(w: str, n: int, q: Any, member: str | None, at: datetime) -> Job:
    return Job(
        id=f"job_{n:08d}",
        wallet_id=w,
        kind="generation",
        model=q.model,
        state="pending",
        params=dict(q.params),
        generations=q.generations,
        quote=q.to_dict(),
        catalog=q.catalog,
        catalog_version=q.catalog_version,
        catalog_hash=q.catalog_hash,
        credits_quoted=q.total_credits,
        hold_amount=q.total_credits,
        credits_held=q.total_credits,
        credits_used=0,
        written_off=0,
        hold_legs=(HoldLeg(f"g_{w}_base", q.total_credits),),
        hold_expires_at=at + timedelta(hours=1),
        submitted_by=member,
        metadata={},
        reason=None,
        created_at=at,
        updated_at=at,
    )


def _resolve(job: Job, outcome: str, rng: random.Random) -> tuple[Job, Any]:
    """The job after its outcome, and the transaction that settles its hold."""
    held = job.credits_held
    leg = job.hold_legs[0]
    at = job.created_at + timedelta(
        seconds=3600 if outcome == "timed_out" else rng.randrange(10, 600)
    )
    key = Key()
    if outcome == "succeeded":
        tx = postings.capture(
            job.id,
            job.wallet_id,
            held=held,
            captured=held,
            returned=(),
            extra=Charge(),
            at=at,
            key=key,
        )
        used = held
    else:
        back = (Posting(grant_account(leg.grant_id or ""), held),)
        tx = postings.release(
            job.id,
            job.wallet_id,
            held=held,
            returned=back,
            timed_out=outcome == "timed_out",
            at=at,
            key=key,
        )
        used = 0
    after = evolve(
        job, state=outcome, credits_held=0, credits_used=used, updated_at=at, resolved_at=at
    )
    return after, tx


_PROTO_JOB = "job_PROTOTYPE"
_PROTO_WALLET = "w_PROTOTYPE"


class Template:
    """A prototype job of one quote and outcome, built by the write path's functions: its
    final row, its two transactions (with their postings), its rollup key and counters."""

    def __init__(self, q: Any, outcome: str) -> None:
        self.outcome = outcome
        job = _job(_PROTO_WALLET, 0, q, None, START)
        job = evolve(
            job, id=_PROTO_JOB, hold_legs=(HoldLeg(f"g_{_PROTO_WALLET}_base", q.total_credits),)
        )
        after, settle = _resolve(job, outcome, random.Random(0))
        sink = RollupSink()
        usage.job_changed(cast(WriteUnit, sink), None, job, START)
        self.opened = next(c for (f, _), c in sink.rows.items() if f == "usage")
        sink.rows.clear()
        usage.job_changed(cast(WriteUnit, sink), job, after, START)
        self.closed = next(c for (f, _), c in sink.rows.items() if f == "usage")
        # model, mode, route, currency (the ledger-wide key's, after its day and anchor)
        self.key = tuple(next(k for (f, k) in sink.rows if f == "usage_total")[2:])
        self.row = job_row(after)
        for name in ("params", "quote", "meta"):
            self.row[name] = json.dumps(self.row[name])
        hold = postings.hold(job.id, job.wallet_id, job.hold_legs, at=START, key=Key())
        self.hold, self.settle = (
            {**transaction_row(tx), "postings": [(p.account, p.amount) for p in tx.postings]}
            for tx in (hold, settle)
        )

    def job_row(
        self, seq: int, job_id: str, w: str, member: str | None, at: datetime, done: datetime
    ) -> dict[str, Any]:
        legs = f'[["g_{w}_base", {self.row["hold_amount"]}]]'
        return {
            **self.row,
            "seq": seq,
            "id": job_id,
            "wallet_id": w,
            "submitted_by": member,
            "hold_legs": legs,
            "hold_expires_at": at + timedelta(hours=1),
            "created_at": at,
            "updated_at": done,
            "resolved_at": done,
        }


class Loader:
    def __init__(self, engine: sa.Engine, args: argparse.Namespace) -> None:
        self.out = Writer(engine)
        self.args = args
        self.sink = RollupSink()
        self.uow = cast(WriteUnit, self.sink)
        self.tx_seq = 0
        self.entry_seq = 0
        self.pending: dict[str, list[dict[str, Any]]] = {"jobs": [], "txs": [], "entries": []}

    def add_tx(self, tx: Any) -> None:
        self.tx_seq += 1
        self.pending["txs"].append({"seq": self.tx_seq, **transaction_row(tx)})
        for p in tx.postings:
            self.entry_seq += 1
            row = {
                "seq": self.entry_seq,
                "tx_seq": self.tx_seq,
                "wallet_id": tx.wallet_id,
                "account": p.account,
                "amount": p.amount,
            }
            self.pending["entries"].append(row)

    def flush(self) -> None:
        self.out.write(t.jobs, self.pending["jobs"])
        for tx in self.pending["txs"]:
            tx.pop("postings", None)
        self.out.write(t.transactions, self.pending["txs"])
        self.out.write(t.entries, self.pending["entries"])
        self.pending = {"jobs": [], "txs": [], "entries": []}

    def wallets(self) -> list[str]:
        ids = [f"w_{i:05d}" for i in range(self.args.wallets)]
        wallets, grants = [], []
        for w in ids:
            wallets.append(
                wallet_row(Wallet(w, "user", 0, None, 0, 0, START, START, grant_totals={}))
            )
            base = Grant(
                f"g_{w}_base",
                w,
                "purchase",
                10**12,
                10**12,
                50,
                START,
                None,
                "bench",
                "active",
                START,
            )
            grants.append(grant_row(base))
            self.add_tx(postings.issue(base, repaid=0, at=START, key=Key(), memo="bench"))
        self.out.write(t.wallets, wallets)
        self.out.write(t.grants, grants)
        return ids

    def sales(self, ids: list[str]) -> None:
        """A 'medium' pack a month per wallet (18.00 for 2,000 + 200 bonus); the bonus expires
        unused after three months."""
        grants, purchases = [], []
        months = max(1, self.args.days // 30)
        for w in ids:
            for m in range(months):
                at = START + timedelta(days=30 * m, hours=1)
                pid = f"p_{w}_{m}"
                credit = Grant(
                    f"g_{pid}_c", w, "purchase", 2000, 2000, 50, at, None, pid, "active", at
                )
                ends = at + timedelta(days=90)
                bonus = Grant(f"g_{pid}_b", w, "bonus", 200, 200, 30, at, ends, pid, "active", at)
                for g in (credit, bonus):
                    self.add_tx(postings.issue(g, repaid=0, at=at, key=Key(), memo=pid))
                price = Decimal("18.00")
                purchases.append(
                    purchase_row(
                        Purchase(
                            pid,
                            w,
                            "medium",
                            "bench",
                            price,
                            "USD",
                            2000,
                            200,
                            credit.id,
                            bonus.id,
                            "paid",
                            0,
                            0,
                            at,
                            at,
                        )
                    )
                )
                usage.sold(self.uow, w, "pack", (price, "USD"), (2200, 200), at)
                if ends < START + timedelta(days=self.args.days):
                    closing = postings.close_grant(bonus, voided=False, at=ends, key=Key())
                    self.add_tx(closing)
                    usage.expired(self.uow, bonus, bonus.remaining, ends)
                    bonus = evolve(bonus, remaining=0, state="expired", closed_at=ends)
                grants += [grant_row(credit), grant_row(bonus)]
        self.out.write(t.grants, grants)
        self.out.write(t.purchases, purchases)

    def jobs(self, ids: list[str]) -> None:
        """Each job from a template: the rows and rollup counters the write path's functions
        make for a prototype job of that quote and outcome, with its id, wallet, member and
        times put in (building every job's objects anew cost 0.5 ms a job)."""
        rng = random.Random(self.args.seed)
        templates = [
            [(Template(q, outcome), weight) for outcome, weight in OUTCOMES]
            for q, _share in _quotes()
        ]
        weights = [share for *_, share in MIX]
        members: list[tuple[str | None, int]] = [(None, 50), ("m1", 30), ("m2", 20)]
        span = self.args.days * 86400
        pending = self.pending
        for n in range(self.args.jobs):
            w = ids[int(len(ids) * rng.random() ** 2)]  # a few wallets make most jobs
            variant = rng.choices(templates, weights)[0]
            tpl = _pick(rng, variant)
            at = START + timedelta(seconds=rng.randrange(span))
            done = at + timedelta(
                seconds=3600 if tpl.outcome == "timed_out" else rng.randrange(10, 600)
            )
            job_id = f"job_{n:08d}"
            member = _pick(rng, members)
            pending["jobs"].append(tpl.job_row(n + 1, job_id, w, member, at, done))
            for tx, when in ((tpl.hold, at), (tpl.settle, done)):
                self.tx_seq += 1
                pending["txs"].append(
                    {
                        **tx,
                        "seq": self.tx_seq,
                        "id": tx["id"].replace(_PROTO_JOB, job_id),
                        "wallet_id": w,
                        "job_id": job_id,
                        "created_at": when,
                    }
                )
                for account, amount in tx["postings"]:
                    self.entry_seq += 1
                    pending["entries"].append(
                        {
                            "seq": self.entry_seq,
                            "tx_seq": self.tx_seq,
                            "wallet_id": w,
                            "account": account.replace(_PROTO_JOB, job_id).replace(
                                _PROTO_WALLET, w
                            ),
                            "amount": amount,
                        }
                    )
            key = (w, member or "", *tpl.key)
            for day, counts in ((at, tpl.opened), (done, tpl.closed)):
                d = day_of(day)
                for fam, k in (
                    ("usage", (d, *key)),
                    ("usage_month", (month_of(d), *key)),
                    ("usage_total", (d, anchor_of(w), *tpl.key)),
                ):
                    name = (fam, k)
                    self.sink.rows[name] = add_counts(self.sink.rows.get(name), counts)
            if len(pending["jobs"]) >= 20_000:
                self.flush()
                pending = self.pending
        self.flush()

    def rollups(self, engine: sa.Engine) -> None:
        with engine.begin() as conn:
            upsert_rollups(conn, engine.dialect.name, self.sink.rows.items())
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                for table in ("ledger_jobs", "ledger_transactions", "ledger_entries"):
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "
                            f"(SELECT max(seq) FROM {table}))"
                        )
                    )
                conn.execute(sa.text("ANALYZE"))
        else:
            with engine.begin() as conn:
                conn.execute(sa.text("ANALYZE"))


REPORTS: list[tuple[str, Callable[[Any, str | None, str | None], Any]]] = [
    (
        "usage by model,route",
        lambda r, s, u: usage_report(r, ReportQuery.of(since=s, until=u, by="model,route")),
    ),
    ("usage by day", lambda r, s, u: usage_report(r, ReportQuery.of(since=s, until=u, by="day"))),
    (
        "failures by model,route,week",
        lambda r, s, u: usage_report(r, ReportQuery.of(since=s, until=u, by="week,model,route")),
    ),
    (
        "usage by wallet,member",
        lambda r, s, u: usage_report(r, ReportQuery.of(since=s, until=u, by="wallet,member")),
    ),
    (
        "usage by member,model",
        lambda r, s, u: usage_report(r, ReportQuery.of(since=s, until=u, by="member,model")),
    ),
    (
        "usage by month,member",
        lambda r, s, u: usage_report(r, ReportQuery.of(since=s, until=u, by="month,member")),
    ),
    (
        "usage of one wallet by day,model",
        lambda r, s, u: usage_report(
            r, ReportQuery.of(since=s, until=u, by="day,model", wallet="w_00007")
        ),
    ),
    (
        "margin by model,route",
        lambda r, s, u: margin_report(r, ReportQuery.of(since=s, until=u, by="model,route")),
    ),
    ("margin overall", lambda r, s, u: margin_report(r, ReportQuery.of(since=s, until=u))),
    (
        "breakage by month,kind",
        lambda r, s, u: breakage_report(r, ReportQuery.of(since=s, until=u)),
    ),
]


def time_reports(store: Any, end: datetime, repeat: int) -> list[tuple[str, str, float, int]]:
    last30 = ((end - timedelta(days=30)).date().isoformat(), end.date().isoformat())
    found = []
    for period, (since, until) in (("30 days", last30), ("all time", (None, None))):
        for name, run in REPORTS:
            times, rows = [], 0
            for _ in range(repeat):
                began = time.perf_counter()
                with store.reader() as reader:
                    answer = run(reader, since, until)
                times.append(time.perf_counter() - began)
                rows = len(answer.rows)
            found.append((period, name, statistics.median(times), rows))
    return found


def check(engine: sa.Engine, store: Any) -> tuple[int, int, float]:
    """Captured credits: from the rollups, and from a full scan of the entries (timed)."""
    with store.reader() as reader:
        rolled = usage_report(reader, ReportQuery.of()).total.captured
    began = time.perf_counter()
    with engine.connect() as conn:
        scanned = conn.execute(
            sa.text("SELECT sum(amount) FROM ledger_entries WHERE account = 'consumed'")
        ).scalar_one()
    return rolled, int(scanned), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--wallets", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(args.backend, Path(tmp), "reports") as url,
    ):
        store = open_store(url)
        engine = store.engine  # type: ignore[attr-defined]
        loader = Loader(engine, args)
        began = time.perf_counter()
        ids = loader.wallets()
        loader.sales(ids)
        loader.jobs(ids)
        loader.rollups(engine)
        loaded = time.perf_counter() - began
        with engine.connect() as conn:
            counts = {
                name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in (
                    "ledger_jobs",
                    "ledger_transactions",
                    "ledger_entries",
                    "report_usage",
                    "report_usage_month",
                    "report_usage_total",
                    "report_flows",
                )
            }
        print(f"backend {args.backend}: loaded in {loaded:.1f} s: {counts}")
        rolled, scanned, scan_s = check(engine, store)
        print(
            f"captured credits: rollups {rolled:,}, "
            f"full scan of entries {scanned:,} ({scan_s:.2f} s)"
        )
        assert rolled == scanned, "the rollups disagree with the ledger"
        end = START + timedelta(days=args.days)
        print("| period | report | rows | median s |")
        print("|---|---|---|---|")
        for period, name, median, rows in time_reports(store, end, args.repeat):
            print(f"| {period} | {name} | {rows:,} | {median:.3f} |")
        store.close()


if __name__ == "__main__":
    main()
